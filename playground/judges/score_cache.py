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
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from .. import db as store
from ..config import get_settings

MAX_ROWS = 200_000  # about 400 MB of 512-float embeddings at most
CHECK_BYTES = 8  # the hash stored before each vector's bytes
DAMAGED = ("SQLITE_NOTADB", "SQLITE_CORRUPT")  # sqlite3's names for "not a database" and "malformed"
Vector = np.ndarray
logger = logging.getLogger("playground")


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
    """Float vectors by (judge, key) in one SQLite file.

    A cache is disposable: a file that is no database or is damaged is set aside (renamed
    ``scores.sqlite.corrupt-<time>``, with a log line) and a new one is built, and a vector whose
    bytes do not match the hash stored with them (a row cut short) reads as missing and is
    computed again, so a broken cache never stops a request."""

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
        found = self._get(judge, keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            computed = [np.asarray(v, dtype=np.float32) for v in compute(missing)]
            fresh = {keys[i]: vector for i, vector in zip(missing, computed)}
            self._put(judge, fresh)
            found.update(fresh)
        return [found[key] for key in keys]

    def _get(self, judge: str, keys: Sequence[str]) -> dict[str, Vector]:
        """The stored, intact vectors of `keys` (none from a cache that cannot be read)."""
        with self._disposable(), store.opened(self.path, MIGRATIONS) as db:
            found: dict[str, Vector] = {}
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), 500):  # SQLite's limit on bound parameters
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT key, vector FROM readings WHERE judge = ? AND key IN ({marks})",
                                  [judge, *chunk])
                found.update((key, vector) for key, blob in rows if (vector := _unpacked(blob)) is not None)
            if found:
                with store.immediate(db):
                    db.executemany("UPDATE readings SET used = (SELECT COALESCE(MAX(used), 0) + 1 FROM readings) "
                                   "WHERE judge = ? AND key = ?", [(judge, key) for key in found])
            return found
        return {}  # the cache failed: set aside or logged by _disposable

    def _put(self, judge: str, vectors: dict[str, Vector]) -> None:
        """Store `vectors` (not at all, this once, when the cache cannot be written)."""
        with self._disposable(), store.opened(self.path, MIGRATIONS) as db, store.immediate(db):
            (top,) = db.execute("SELECT COALESCE(MAX(used), 0) FROM readings").fetchone()
            db.executemany("INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?)",
                           [(judge, key, _packed(vector), top + 1) for key, vector in vectors.items()])
            db.execute("DELETE FROM readings WHERE used <= (SELECT used FROM readings ORDER BY used DESC "
                       "LIMIT 1 OFFSET ?)", (MAX_ROWS,))

    @contextmanager
    def _disposable(self) -> Iterator[None]:
        """Run the block; when the cache fails, end it quietly and go on without the cache: a file
        that is no database, or a damaged one, is set aside first; a locked or unwritable one is
        only logged (it may work next time)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", None) not in DAMAGED:
                logger.warning("The score cache %s was not used this time: %s", self.path, exc)
                return
            self._set_aside(exc)
        except OSError as exc:
            logger.warning("The score cache %s was not used this time: %s", self.path, exc)

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        """Rename the damaged file (and its write-ahead log, which must not be replayed into the
        new one) with a ``.corrupt-<time>`` suffix; the next use builds a new file."""
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("-wal", "-shm", ""):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.replace(f"{aside}{suffix}")
        logger.warning("The score cache %s could not be read (%s); set aside as %s, a new one is built.",
                       self.path, exc, aside.name)


def _packed(vector: Vector) -> bytes:
    """A vector's float32 bytes after a hash of them, so a row cut short is recognised."""
    data = np.asarray(vector, dtype=np.float32).tobytes()
    return hashlib.blake2b(data, digest_size=CHECK_BYTES).digest() + data


def _unpacked(blob: object) -> Vector | None:
    """The vector `_packed` stored, or None when the row is not one (cut short, altered, or
    written before rows carried their hash)."""
    if not isinstance(blob, bytes) or len(blob) < CHECK_BYTES or (len(blob) - CHECK_BYTES) % 4:
        return None
    check, data = blob[:CHECK_BYTES], blob[CHECK_BYTES:]
    if hashlib.blake2b(data, digest_size=CHECK_BYTES).digest() != check:
        return None
    return np.frombuffer(data, dtype=np.float32).copy()  # writable: torch.from_numpy shares it


def cached_readings(judge: str, images: Sequence[Image.Image], compute: Callable[[list[int]], Sequence[Vector]],
                    extra: Sequence[str] | None = None) -> list[Vector]:
    """`compute`'s vectors for `images` (the positions it is given), through the configured
    cache when there is one; `extra[i]` (a question) is part of image i's key."""
    cache = ScoreCache.configured()
    if cache is None:
        return [np.asarray(v, dtype=np.float32) for v in compute(list(range(len(images))))]
    keys = [digest(image) + (f"|{extra[i]}" if extra else "") for i, image in enumerate(images)]
    return cache.readings(judge, keys, compute)
