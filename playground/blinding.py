"""What a person who must not know is shown: opaque names, keyed hashes and pixel-only copies.

A rater of a study, an Arena voter, and the vote counter all need the same three things: a random
key kept in a folder that is never served, names made from it (an HMAC, so a name reveals nothing
and cannot be guessed or reversed by trying every input), and copies of images that hold their
pixels alone (a saved PNG carries its prompt and settings in its text chunks).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from PIL import Image

from .files import atomic


def secret_key(folder: Path, name: str = ".blind-key") -> bytes:
    """The folder's secret key, created once: written to a temporary file and linked into place, so
    a second process either wins the same race cleanly or reads the whole key, never half of it."""
    path = folder / name
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        tmp.write_text(secrets.token_bytes(32).hex(), encoding="ascii")
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process linked its key first; use that one
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def opaque(key: bytes, text: str, length: int = 24) -> str:
    """`length` hex digits of the HMAC-SHA256 of `text` under `key`."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:length]


def pixel_copy(source: Path, target: Path) -> Path:
    """`target`: a PNG of `source`'s pixels alone (no text chunks, no EXIF), made once."""
    if not target.is_file():
        with Image.open(source) as image:
            pixels = Image.frombytes(image.mode, image.size, image.tobytes())
        with atomic(target) as tmp:
            pixels.save(tmp, format="PNG")
    return target
