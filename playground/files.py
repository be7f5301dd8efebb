"""Writing files so that nobody sees half of one: a temporary file renamed into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .config import get_settings


@contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it when the block succeeds: readers (a resumed
    sweep, a served image, another process) never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def download_folder(prefix: str) -> Path:
    """A fresh folder inside the served outputs folder, for a file a person downloads."""
    outputs = get_settings().outputs_dir
    outputs.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=outputs))
