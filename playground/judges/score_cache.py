"""Judges' readings of an image cached on disk, per scorer, so a grid redrawn after one edit is
judged only where its images changed.

What is stored is what each judge computes from the image alone, keyed by the judge's id and a
digest of the image's pixels: a CLIP's image embedding (every CLIP score, the criteria and the
probe follow from it and the texts, whose embeddings are cheap and cached in memory), a
vision-language judge's P(yes) for one question, the x-ray classifier's probabilities. One SQLite
file under PLAYGROUND_HOME/cache/, on whenever the image cache is (PLAYGROUND_IMAGE_CACHE_MB > 0),
trimmed to the most recently used MAX_ROWS readings.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .. import db as store
from ..config import get_settings

MAX_ROWS = 200_000  # about 400 MB of 512-float embeddings at most
Vector = np.ndarray


def digest(image: Image.Image) -> str:
    """A hash of an image's pixels, mode and size: equal for a generated image and its PNG."""
    hasher = hashlib.sha256(f"{image.mode} {image.size}".encode())
    hasher.update(image.tobytes())
    return hasher.hexdigest()


def m001_readings(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE readings (judge TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL, "
               "used INTEGER NOT NULL, PRIMARY KEY (judge, key))")
    db.execute("CREATE INDEX readings_used ON readings (used)")


MIGRATIONS = [m001_readings]


class ScoreCache:
    """Float vectors by (judge, key) in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def configured(cls) -> ScoreCache | None:
        """The cache beside the image cache, or None when caching is off."""
        settings = get_settings()
        return cls(settings.home / "cache" / "scores.sqlite") if settings.image_cache_mb > 0 else None

    def readings(self, judge: str, keys: Sequence[str], compute: Callable[[list[int]], Sequence[Vector]]) -> list[Vector]:
        """The vector of each key: stored ones as they are, the others from `compute(indices)`
        (called once, with the positions of the missing keys) and then stored."""
        with store.opened(self.path, MIGRATIONS) as db:
            found = self._get(db, judge, keys)
            missing = [i for i, key in enumerate(keys) if key not in found]
            if missing:
                computed = [np.asarray(v, dtype=np.float32) for v in compute(missing)]
                fresh = {keys[i]: vector for i, vector in zip(missing, computed)}
                self._put(db, judge, fresh)
                found.update(fresh)
            return [found[key] for key in keys]

    def _get(self, db: sqlite3.Connection, judge: str, keys: Sequence[str]) -> dict[str, Vector]:
        found: dict[str, Vector] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # SQLite's limit on bound parameters
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(f"SELECT key, vector FROM readings WHERE judge = ? AND key IN ({marks})", [judge, *chunk])
            found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        if found:
            with store.immediate(db):
                db.executemany("UPDATE readings SET used = (SELECT COALESCE(MAX(used), 0) + 1 FROM readings) "
                               "WHERE judge = ? AND key = ?", [(judge, key) for key in found])
        return found

    def _put(self, db: sqlite3.Connection, judge: str, vectors: dict[str, Vector]) -> None:
        with store.immediate(db):
            (top,) = db.execute("SELECT COALESCE(MAX(used), 0) FROM readings").fetchone()
            db.executemany("INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?)",
                           [(judge, key, vector.tobytes(), top + 1) for key, vector in vectors.items()])
            db.execute("DELETE FROM readings WHERE used <= (SELECT used FROM readings ORDER BY used DESC "
                       "LIMIT 1 OFFSET ?)", (MAX_ROWS,))


def cached_readings(judge: str, images: Sequence[Image.Image], compute: Callable[[list[int]], Sequence[Vector]],
                    extra: Sequence[str] | None = None) -> list[Vector]:
    """`compute`'s vectors for `images` (the positions it is given), through the configured
    cache when there is one; `extra[i]` (a question) is part of image i's key."""
    cache = ScoreCache.configured()
    if cache is None:
        return [np.asarray(v, dtype=np.float32) for v in compute(list(range(len(images))))]
    keys = [digest(image) + (f"|{extra[i]}" if extra else "") for i, image in enumerate(images)]
    return cache.readings(judge, keys, compute)
