"""What the playground writes stays under PLAYGROUND_OUTPUTS_MB, oldest first, never the library's
images; a full disk is a sentence and leaves nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from playground import GuidanceSetting, compare
from playground.config import get_settings
from playground.files import download_folder, trim_outputs, trimmed
from playground.research import access
from playground.workflow.compare import new_run_folder


def folder_of(path: Path, kilobytes: int, age_s: int) -> Path:
    """A folder holding one file of `kilobytes`, last written `age_s` seconds ago."""
    path.mkdir(parents=True)
    file = path / "image.png"
    file.write_bytes(os.urandom(kilobytes * 1024))
    then = file.stat().st_mtime - age_s
    os.utime(file, (then, then))
    return path


def test_outputs_stay_under_the_cap_oldest_first_and_the_librarys_images_stay(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path))
    monkeypatch.setenv("PLAYGROUND_OUTPUTS_MB", "2")
    outputs = get_settings().outputs_dir
    library = folder_of(outputs / "library", 900, age_s=9000)  # the oldest of all, and kept
    oldest_grid = folder_of(outputs / "20260101-000000-aaaaaaaa", 500, age_s=5000)
    old_copies = folder_of(outputs / "blind" / "0123456789abcdef", 300, age_s=4000)
    export = folder_of(outputs / "library-export-x1", 400, age_s=3000)
    recent_grid = folder_of(outputs / "20260101-000500-bbbbbbbb", 500, age_s=10)
    new = new_run_folder()
    trimmed()  # the trim runs off the request's path
    assert new.is_dir() and library.is_dir() and recent_grid.is_dir()
    assert not oldest_grid.exists() and not old_copies.exists()  # least recently written first, until under the cap
    assert export.is_dir()
    total = sum(f.stat().st_size for f in outputs.rglob("*") if f.is_file())
    assert total <= 2 * 2**20
    download_folder("library-export")  # an export trims the same way
    trimmed()
    monkeypatch.setenv("PLAYGROUND_OUTPUTS_MB", "1")
    assert download_folder("library-export").is_dir()
    trimmed()
    assert library.is_dir()
    assert not export.exists() and not recent_grid.exists()


def test_a_full_disk_is_a_sentence_and_nothing_half_written(tmp_path):
    compare("melanoma", ["photo-short"], [GuidanceSetting(4.0, steps=2)], images_per_cell=2)  # models built first
    script = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))
        from pathlib import Path
        from playground import compare, GuidanceSetting
        try:
            compare("melanoma", ["photo-short"], [GuidanceSetting(4.0, steps=2)], images_per_cell=2,
                    folder=Path({str(tmp_path / "grid")!r}))
        except Exception as error:
            print(type(error).__name__, error)
    """)
    said = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600).stdout
    assert said.startswith("PlaygroundError ") and "could not be saved: the disk is full" in said
    assert not [p for p in (tmp_path / "grid").rglob("*") if p.name.endswith(".tmp")]  # nothing half-written


def test_a_visitors_idle_rating_run_counts_toward_the_cap_an_operators_or_a_rated_one_never(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path))
    monkeypatch.setenv("PLAYGROUND_OUTPUTS_MB", "1")
    runs = get_settings().runs_dir
    operators = folder_of(runs / "glide", 600, age_s=10 * 86400)  # swept by the operator: no owner
    idle = folder_of(runs / "compare-old", 600, age_s=3 * 86400)
    (idle / access.OWNER_FILE).write_text(access.digest("k" * 24), encoding="ascii")
    os.utime(idle / access.OWNER_FILE, (idle.stat().st_mtime - 3 * 86400,) * 2)
    rated = folder_of(runs / "compare-rated", 600, age_s=3 * 86400)
    (rated / access.OWNER_FILE).write_text(access.digest("r" * 24), encoding="ascii")  # written just now: a rating
    assert access.idle_visitor_runs() == [idle]
    grid = folder_of(get_settings().outputs_dir / "20260101-000000-cccccccc", 600, age_s=60)
    removed = trim_outputs(extra=access.idle_visitor_runs())
    assert removed == [idle] and operators.is_dir() and rated.is_dir() and grid.is_dir()
