"""Copies of a sweep's images for raters: no metadata, opaque names, in the served folder.

A sweep's PNGs carry their prompt and settings (A1111 parameters) and are named by row, column and
seed; a blinded rater must learn neither. Each image shown is a copy of its pixels alone, named by
an HMAC of its file name under a random key kept in the run folder (which is never served), so a
name reveals nothing about the condition and cannot be guessed (playground.blinding). Raters leave
the run under the same key: exports name them by a pseudonym, an HMAC of their name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..blinding import opaque, pixel_copy, secret_key
from ..config import get_settings


def pseudonyms(run_dir: Path, raters: Iterable[str]) -> dict[str, str]:
    """The name each rater has outside the run's database: 12 hex digits of an HMAC of the name
    under the run's key, the same in every export of the run and of no use without the key."""
    key = secret_key(run_dir)
    return {rater: opaque(key, f"rater\x1f{rater}", 12) for rater in raters}


def blinded(run_dir: Path, image_file: str) -> Path:
    """The rater's copy of `run_dir/images/image_file`, made on first use."""
    key = secret_key(run_dir)
    target = get_settings().blind_dir / opaque(key, "run", 16) / f"{opaque(key, image_file)}.png"
    return pixel_copy(run_dir / "images" / image_file, target)
