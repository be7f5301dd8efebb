"""The one SQLite layer every store uses: connections, migrations, write transactions, timestamps.

After simonw/llm: each database has an append-only list of named migration functions, applied on
connect and recorded in `_migrations`. Every connection gets the same settings (WAL, a busy
timeout of PLAYGROUND_LIBRARY_TIMEOUT, synchronous=NORMAL), and every write is one short
``BEGIN IMMEDIATE`` transaction. A write that cannot happen (locked, read-only, no such folder)
becomes one plain sentence saying that nothing was saved.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .config import get_settings
from .errors import PlaygroundError

Migration = Callable[[sqlite3.Connection], None]


def now_utc() -> str:
    """The current time, UTC, ISO 8601 to the second: the timestamp of every stored row."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def connect(path: Path, migrations: Sequence[Migration]) -> sqlite3.Connection:
    """A connection to the database at `path` (created with its folder), migrated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    timeout = get_settings().library_timeout_s
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    migrate(db, migrations)
    return db


@contextmanager
def opened(path: Path, migrations: Sequence[Migration]) -> Iterator[sqlite3.Connection]:
    """`connect`, closed when the block ends."""
    db = connect(path, migrations)
    try:
        yield db
    finally:
        db.close()


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration]) -> None:
    """Apply every migration not yet recorded, each in its own transaction.

    The usual case, nothing to apply, takes no write lock; a missing migration is rechecked under
    the lock, so two processes never apply it twice.
    """
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    applied = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for fn in (fn for fn in migrations if fn.__name__ not in applied):
        with immediate(db):
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (fn.__name__,)).fetchone():
                continue
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (fn.__name__, now_utc()))


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One short write transaction that takes the write lock up front (no upgrade deadlocks)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def writing(path: Path, migrations: Sequence[Migration], what: str) -> Iterator[sqlite3.Connection]:
    """A write transaction on `path`; if the database cannot be written, one sentence saying that
    `what` was not saved and nothing stored before was changed."""
    try:
        with opened(path, migrations) as db, immediate(db):
            yield db
    except (sqlite3.Error, OSError) as exc:
        raise PlaygroundError(
            f"{what} was not saved: {path.name} could not be written ({exc}). "
            "Nothing already stored was changed; try again in a moment."
        ) from exc
