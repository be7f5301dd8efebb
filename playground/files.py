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
from concurrent.futures import ThreadPoolExecutor
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
    trim_soon(keep=[folder])
    return folder


def usage(folder: Path | str) -> tuple[int, float]:
    """(bytes of every file under `folder`, when a file in it was last written; the folder's own
    time when it holds none), in one walk: a grid saved batch by batch counts from its last batch."""
    size, last = 0, 0.0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                inner, written = usage(entry.path)
            else:
                stat = entry.stat(follow_symlinks=False)
                inner, written = stat.st_size, stat.st_mtime
            size, last = size + inner, max(last, written)
    return size, last or os.stat(folder).st_mtime


def last_written(folder: Path) -> float:
    """When anything in `folder` was last written."""
    return usage(folder)[1]


def _split(outputs: Path) -> tuple[list[Path], int]:
    """(the disposable folders of the outputs folder, the bytes of everything else in it)."""
    disposable, kept = [], 0
    for entry in outputs.iterdir():
        if entry.name in NESTED and entry.is_dir():
            for sub in entry.iterdir():
                if sub.is_dir():
                    disposable.append(sub)
                else:
                    kept += sub.stat().st_size
        elif entry.is_dir() and entry.name not in KEPT:
            disposable.append(entry)
        else:
            kept += usage(entry)[0] if entry.is_dir() else entry.stat().st_size
    return disposable, kept


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
    disposable, total = _split(outputs)
    candidates = {folder: usage(folder) for folder in [*disposable, *extra]}
    total += sum(size for size, _ in candidates.values())
    removed = []
    for folder, (size, _) in sorted(candidates.items(), key=lambda item: item[1][1]):
        if total <= cap:
            break
        if folder.resolve() in kept:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
        removed.append(folder)
    if removed:
        logger.info("Outputs over PLAYGROUND_OUTPUTS_MB=%d: removed the %d least recently written folders.",
                    settings.outputs_mb, len(removed))
    return removed


_trimmer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trim-outputs")


def trim_soon(keep: Iterable[Path] = (), extra: Iterable[Path] = ()) -> None:
    """`trim_outputs` off the request's path (its walk of a full outputs folder takes a while), in
    one worker thread: trims run one after another, never two at once."""
    _trimmer.submit(_trim_logged, list(keep), list(extra))


def _trim_logged(keep: list[Path], extra: list[Path]) -> None:
    try:
        trim_outputs(keep, extra)
    except OSError as exc:  # a folder removed under it, say: the next trim goes on
        logger.warning("Could not trim the outputs folder: %s", exc)


def trimmed() -> None:
    """Wait until every trim asked for so far is done (a test, or a shutdown)."""
    _trimmer.submit(lambda: None).result()
