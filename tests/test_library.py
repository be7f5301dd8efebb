"""The prompt library on a real SQLite file: schema, de-duplication, many writers, crashes."""

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from PIL import Image

from playground.export import parse_parameters, read_parameters
from playground.library import Library

ROOT = Path(__file__).resolve().parent.parent


def record(i: int = 0, **overrides) -> dict:
    values = dict(
        subject="melanoma", template_id="photo-short", prompt=f"A photo of melanoma {i}", negative_prompt="",
        model_id="tiny-offline", scheduler="Euler", steps=2, guidance_scale=7.5, seed=i, width=64, height=64,
    )
    values.update(overrides)
    return values


def test_schema_and_migrations(tmp_path):
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    db = library.connect()
    assert [r[0] for r in db.execute("SELECT name FROM _migrations")] == ["m001_records"]
    columns = [r[1] for r in db.execute("PRAGMA table_info(records)")]
    assert columns[:4] == ["id", "created", "author", "subject"] and "content_hash" in columns
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    Library(tmp_path / "lib.sqlite", tmp_path / "images").connect().close()  # re-connect: nothing re-applied


def test_same_prompt_and_settings_is_one_record_with_more_votes(tmp_path):
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    first = library.log(record(), Image.new("RGB", (64, 64)), scores={"clip_prompt": 21.5})
    again = library.log(record(note="second click"))
    other = library.log(record(seed=99))
    assert first.created and not again.created and other.created
    assert again.id == first.id and again.votes == 2
    frame = library.to_frame()
    assert len(frame) == 2 and frame.iloc[0]["votes"] == 2
    assert frame.iloc[0]["scores"] == {"clip_prompt": 21.5}
    saved = tmp_path / "images" / frame.iloc[0]["image_file"]
    assert parse_parameters(read_parameters(saved))["prompt"] == "A photo of melanoma 0"


def _writer(path: str, worker: int, count: int) -> None:
    library = Library(Path(path), Path(path).parent / "images")
    for i in range(count):
        library.log(record(worker * 1000 + i))


def test_eight_processes_logging_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "lib.sqlite")
    Library(Path(path)).connect().close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, w, 200)) for w in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * 8
    assert len(Library(Path(path)).to_frame()) == 1600


def test_a_writer_killed_mid_write_leaves_a_sound_database(tmp_path):
    path = tmp_path / "lib.sqlite"
    script = (
        "import sys; from pathlib import Path; from tests.test_library import record; "
        "from playground.library import Library\n"
        "lib = Library(Path(sys.argv[1]))\n"
        "for i in range(100000):\n"
        "    lib.log(record(i))\n"
        "    if i == 50: print('ready', flush=True)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    seeds = [row[0] for row in db.execute("SELECT seed FROM records ORDER BY seed")]
    assert len(seeds) >= 51 and seeds == list(range(len(seeds)))  # every committed record, in order
