"""The shared prompt library: preferred images and their prompts, in one SQLite file.

After simonw/llm: an append-only list of migrations recorded in a table and applied on every
connect; a unique content hash so the same prompt and settings logged twice is one record with
one vote more. Many processes write at once, so the file runs in WAL mode with a busy timeout and
every write is one short ``BEGIN IMMEDIATE`` transaction with parameterized SQL.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from PIL import Image

from .config import get_settings
from .export import a1111_parameters, save_png

BUSY_TIMEOUT_S = 30.0

# Fields that make two records "the same": prompt and every setting that changes the image.
IDENTITY_FIELDS = (
    "prompt", "negative_prompt", "model_id", "scheduler", "steps", "guidance_scale", "seed", "width", "height",
)
RECORD_FIELDS = (
    "author", "subject", "template_id", *IDENTITY_FIELDS, "note",
)

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_records(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE records (
            id INTEGER PRIMARY KEY,
            created TEXT NOT NULL,            -- ISO 8601, UTC
            author TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL,
            template_id TEXT NOT NULL,
            prompt TEXT NOT NULL,
            negative_prompt TEXT NOT NULL DEFAULT '',
            model_id TEXT NOT NULL,
            scheduler TEXT NOT NULL,
            steps INTEGER NOT NULL,
            guidance_scale REAL NOT NULL,
            seed INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            scores TEXT NOT NULL DEFAULT '{}', -- JSON object: column name -> float
            note TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '[]',   -- JSON list of strings
            votes INTEGER NOT NULL DEFAULT 1,
            image_file TEXT NOT NULL DEFAULT '', -- file name inside the library images folder
            content_hash TEXT NOT NULL UNIQUE
        )
        """
    )
    db.execute("CREATE INDEX records_votes ON records(votes)")


def migrate(db: sqlite3.Connection) -> None:
    """Apply every migration not yet recorded, each in its own transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    for fn in MIGRATIONS:
        with _immediate(db):
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (fn.__name__,)).fetchone():
                continue
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (fn.__name__, _now()))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One short write transaction that takes the write lock up front (no upgrade deadlocks)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def content_hash(record: Mapping) -> str:
    identity = {name: record[name] for name in IDENTITY_FIELDS}
    identity["guidance_scale"] = float(identity["guidance_scale"])
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Logged:
    """What `Library.log` did: the record's id, whether it is new, and its votes now."""

    id: int
    created: bool
    votes: int


class Library:
    """A prompt library stored at `path`, its images in `images_dir` (a folder the app serves)."""

    def __init__(self, path: Path | None = None, images_dir: Path | None = None) -> None:
        settings = get_settings()
        self.path = Path(path or settings.library_path)
        self.images_dir = Path(images_dir or settings.library_images_dir)

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        migrate(db)
        return db

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = self.connect()
        try:
            yield db
        finally:
            db.close()

    def log(self, record: Mapping, image: Image.Image | None = None, scores: Mapping[str, float] | None = None,
            tags: list[str] | None = None) -> Logged:
        """Add a record, or one vote to the existing record with the same prompt and settings.

        Args:
            record: a result row (generate.FRAME_COLUMNS) plus optional ``author`` and ``note``.
            image: saved as PNG with its parameters, named by the content hash.
            scores: e.g. ``{"clip_prompt": 27.1}``; stored as JSON.
        """
        missing = [name for name in RECORD_FIELDS if name not in record and name not in ("author", "note")]
        if missing:
            raise ValueError(f"A library record needs {', '.join(missing)}.")
        digest = content_hash(record)
        image_file = ""
        if image is not None:
            image_file = f"{digest[:24]}.png"
            target = self.images_dir / image_file
            if not target.exists():
                tmp = target.with_suffix(f".{os.getpid()}.tmp")
                save_png(image, tmp, a1111_parameters(record))
                os.replace(tmp, target)
        values = {name: record.get(name, "") for name in RECORD_FIELDS}
        values["guidance_scale"] = float(values["guidance_scale"])
        values.update(
            created=_now(), scores=json.dumps({k: float(v) for k, v in (scores or {}).items()}),
            tags=json.dumps(list(tags or [])), image_file=image_file, content_hash=digest,
        )
        columns = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)
        with self._db() as db, _immediate(db):
            row = db.execute(
                f"INSERT INTO records ({columns}) VALUES ({placeholders}) "
                "ON CONFLICT(content_hash) DO UPDATE SET votes = votes + 1 RETURNING id, votes",
                values,
            ).fetchone()
        return Logged(id=row["id"], created=row["votes"] == 1, votes=row["votes"])

    def to_frame(self) -> pd.DataFrame:
        """Every record, most voted first; `scores` and `tags` decoded from JSON."""
        with self._db() as db:
            frame = pd.read_sql_query("SELECT * FROM records ORDER BY votes DESC, created DESC, id DESC", db)
        frame["scores"] = frame["scores"].map(json.loads)
        frame["tags"] = frame["tags"].map(json.loads)
        return frame
