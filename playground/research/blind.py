"""Copies of a sweep's images for raters: no metadata, opaque names, in the served folder.

A sweep's PNGs carry their prompt and settings (A1111 parameters) and are named by row, column and
seed; a blinded rater must learn neither. Each image shown is a copy of its pixels alone, named by
an HMAC of its file name under a random key kept in the run folder (which is never served), so a
name reveals nothing about the condition and cannot be guessed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from PIL import Image

from ..config import get_settings
from ..files import atomic

KEY_FILE = ".blind-key"


def run_key(run_dir: Path) -> bytes:
    """The run's secret key, created once: written to a temporary file and linked into place, so a
    second process either wins the same race cleanly or reads the whole key, never half of it."""
    path = run_dir / KEY_FILE
    if not path.is_file():
        tmp = run_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        tmp.write_text(secrets.token_bytes(32).hex(), encoding="ascii")
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process linked its key first; use that one
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def _opaque(key: bytes, text: str, length: int) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:length]


def blinded(run_dir: Path, image_file: str) -> Path:
    """The rater's copy of `run_dir/images/image_file`, made on first use."""
    key = run_key(run_dir)
    target = get_settings().blind_dir / _opaque(key, "run", 16) / f"{_opaque(key, image_file, 24)}.png"
    if not target.is_file():
        with Image.open(run_dir / "images" / image_file) as source:
            pixels = Image.frombytes(source.mode, source.size, source.tobytes())  # no text chunks, no EXIF
        with atomic(target) as tmp:
            pixels.save(tmp, format="PNG")
    return target
