"""The prompt library on a real SQLite file: schema, de-duplication, many writers, crashes."""

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from playground.errors import PlaygroundError
from playground.render.export import parse_parameters, read_parameters
from playground.stores.library import MIGRATIONS, Library

ROOT = Path(__file__).resolve().parent.parent


def record(i: int = 0, **overrides) -> dict:
    return {"subject": "melanoma", "template_id": "photo-short", "prompt": f"A photo of melanoma {i}",
            "negative_prompt": "", "model_id": "tiny-offline", "scheduler": "Euler", "steps": 2, "guidance_scale": 7.5,
            "seed": i, "width": 64, "height": 64, **overrides}


def test_schema_and_migrations(tmp_path):
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    db = library.connect()
    assert [r[0] for r in db.execute("SELECT name FROM _migrations")] == ["m001_records", "m002_modality", "m003_clip_guidance",
                                                                    "m004_setting_identity", "m005_finite_scores",
                                                                    "m006_lineage", "m007_vlm_score",
                                                                    "m008_record_votes"]
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
        "from playground.stores.library import Library\n"
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


def first_release(path: Path, migrations: list) -> sqlite3.Connection:
    """A database as the first release left it: only its first migration applied and recorded."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    migrations[0](db)
    db.execute("INSERT INTO _migrations VALUES (?, 'then')", (migrations[0].__name__,))
    return db


def test_an_old_database_is_upgraded_keeping_its_records(tmp_path):
    path = tmp_path / "old.sqlite"
    db = first_release(path, MIGRATIONS)
    db.execute(
        "INSERT INTO records (created, subject, template_id, prompt, model_id, scheduler, steps, guidance_scale,"
        " seed, width, height, content_hash) VALUES ('then', 's', 't', 'p', 'm', 'Euler', 2, 7.5, 0, 64, 64, 'h')"
    )
    db.close()
    frame = Library(path, tmp_path / "images").to_frame()
    assert frame["prompt"].tolist() == ["p"] and frame["modality"].tolist() == [""]


@pytest.fixture
def filled(tmp_path) -> Library:
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    library.log(record(1, modality="histopathology", template_id="histopathology-short"), scores={"clip_prompt": 30.0},
                tags=["teaching"])
    library.log(record(2, modality="x-ray", template_id="xray-short", note="100% wrong_ish"), scores={"clip_prompt": 10.0})
    library.log(record(3, modality="x-ray", template_id="xray-short", model_id="other/model"),
                scores={"clip_prompt": 20.0})
    library.upvote(2)
    library.upvote(2)
    return library


def test_filters_and_sorts(filled):
    assert filled.to_frame()["seed"].tolist()[0] == 2  # most votes first
    assert filled.to_frame(sort="score")["seed"].tolist() == [1, 3, 2]
    assert filled.to_frame(modality="x-ray")["seed"].tolist() == [2, 3]
    assert filled.to_frame(model_id="other/model")["seed"].tolist() == [3]
    assert filled.to_frame(template_id="histopathology-short", tag="teaching")["seed"].tolist() == [1]
    assert filled.to_frame(text="100%")["seed"].tolist() == [2]  # % is literal, not a wildcard
    assert filled.to_frame(text="ish")["seed"].tolist() == [2]
    assert filled.to_frame(text="MELANOMA 3")["seed"].tolist() == [3]
    with pytest.raises(ValueError, match="Unknown sort"):
        filled.to_frame(sort="random")
    with pytest.raises(ValueError, match="no library record #99"):
        filled.upvote(99)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_exports_hold_every_record(filled, tmp_path, fmt):
    path = filled.export(tmp_path / f"out.{fmt}")
    reader = {"csv": pd.read_csv, "parquet": pd.read_parquet, "jsonl": lambda p: pd.read_json(p, lines=True)}[fmt]
    assert sorted(reader(path)["seed"]) == [1, 2, 3]


def test_jsonl_export_then_import_into_an_empty_store_gives_the_same_records(filled, tmp_path):
    path = filled.export(tmp_path / "out.jsonl")
    empty = Library(tmp_path / "copy.sqlite", tmp_path / "images")
    assert empty.import_jsonl(path, keep_votes=True) == (3, 0)  # as the operator's Hub pull does
    assert empty.import_jsonl(path, keep_votes=True) == (0, 3)  # merging again adds nothing
    keep = ["created", "subject", "prompt", "modality", "votes", "scores", "tags", "note", "content_hash"]
    original = filled.to_frame(sort="oldest")[keep]
    copy = empty.to_frame(sort="oldest")[keep]
    pd.testing.assert_frame_equal(original, copy)


def test_importing_another_export_format_is_refused_in_a_sentence(filled, tmp_path):
    path = filled.export(tmp_path / "out.parquet")
    with pytest.raises(PlaygroundError, match="out.parquet is not a JSON Lines export"):
        Library(tmp_path / "copy.sqlite", tmp_path / "images").import_jsonl(path)


def test_csv_export_escapes_formulas(tmp_path):
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    library.log(record(prompt="=HYPERLINK(\"http://x\")", note="@SUM(A1)"))
    table = pd.read_csv(library.export(tmp_path / "out.csv"))
    assert table["prompt"][0] == "'=HYPERLINK(\"http://x\")" and table["note"][0] == "'@SUM(A1)"


def test_import_names_the_bad_line_and_writes_nothing(tmp_path):
    good = json.dumps(record(1))
    path = tmp_path / "in.jsonl"
    path.write_text(good + "\n" + json.dumps({**record(2), "steps": "many"}) + "\n")
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    with pytest.raises(ValueError, match="in.jsonl line 2: a number field"):
        library.import_jsonl(path)
    path.write_text(good + "\n{not json\n")
    with pytest.raises(ValueError, match="in.jsonl line 2: not valid JSON"):
        library.import_jsonl(path)
    assert library.to_frame().empty


def test_an_imported_record_cannot_point_outside_the_images_folder(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({**record(1), "image_file": "../../etc/passwd"}) + "\n")
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    library.import_jsonl(path)
    assert library.to_frame()["image_file"].tolist() == [""]
