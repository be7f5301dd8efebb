"""Writing files: atomically (nobody sees half of one), into the served outputs folder, under its cap.

Everything a request leaves in the outputs folder (a grid's run folder, an export, the Educators'
pictures, raters' blinded copies) can be drawn, exported or copied again, so `trim_outputs` removes
the least recently written of those folders until the folder holds at most PLAYGROUND_OUTPUTS_MB.
Never touched: the library's own images (`outputs/library/`), the operator's sweep runs and any run
rated in the last day (`PLAYGROUND_HOME/runs/`, outside the outputs folder; a visitor's idle run,
made from a Compare grid, counts toward the cap, see research/access.py). A write that fails for
want of space is a sentence, and leaves nothing half-written.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .config import get_settings
from .errors import PlaygroundError

logger = logging.getLogger(__name__)

KEPT = {"library"}  # outputs/<name> never trimmed
NESTED = {"blind", "educators"}  # outputs/<name>/<folder>: each folder trimmed on its own
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


@contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it when the block succeeds: readers (a resumed
    sweep, a served image, another process) never see a half-written file. A full disk is a
    PlaygroundError naming the file, and the temporary file is gone."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            yield tmp
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise PlaygroundError(f"{path.name} could not be saved: the disk is full. Nothing half-written was "
                                  "kept; try again once space is freed (or lower PLAYGROUND_OUTPUTS_MB).") from exc
        raise


def download_folder(prefix: str) -> Path:
    """A fresh folder inside the served outputs folder, for a file a person downloads (older
    disposable folders are trimmed first, see `trim_outputs`)."""
    outputs = get_settings().outputs_dir
    outputs.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=outputs))
    trim_outputs(keep=[folder])
    return folder


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def last_written(folder: Path) -> float:
    """When anything in `folder` was last written (a grid saved batch by batch counts from its last)."""
    return max((f.stat().st_mtime for f in folder.rglob("*")), default=folder.stat().st_mtime)


def _disposable(outputs: Path) -> Iterator[Path]:
    for entry in outputs.iterdir():
        if entry.name in KEPT or not entry.is_dir():
            continue
        if entry.name in NESTED:
            yield from (sub for sub in entry.iterdir() if sub.is_dir())
        else:
            yield entry


def trim_outputs(keep: Iterable[Path] = (), extra: Iterable[Path] = ()) -> list[Path]:
    """Remove the least recently written disposable folders of the outputs folder until it holds at
    most PLAYGROUND_OUTPUTS_MB (the library's images count, but stay); `keep` (the folder a request
    is writing) stays too. `extra` folders elsewhere (visitors' idle rating runs) count toward the
    cap and may go like the others. Returns what was removed."""
    extra = list(extra)
    settings = get_settings()
    outputs, cap = settings.outputs_dir, settings.outputs_mb * 2**20
    if cap <= 0 or not outputs.is_dir():
        return []
    kept = {Path(p).resolve() for p in keep}
    total = _size(outputs) + sum(_size(folder) for folder in extra)
    if total <= cap:
        return []
    removed = []
    candidates = [*_disposable(outputs), *extra]
    for folder in sorted((f for f in candidates if f.resolve() not in kept), key=last_written):
        total -= _size(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        if total <= cap:
            break
    logger.info("Outputs over PLAYGROUND_OUTPUTS_MB=%d: removed the %d least recently written folders.",
                settings.outputs_mb, len(removed))
    return removed
