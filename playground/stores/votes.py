"""One visitor, one vote per record: the library's votes cast in the app count once per visitor.

A visitor is known by two names, the page's session and the client address: a script may open a
new session for every call, and many people may share one address, so a vote counts only when
neither name voted for that record in the last PLAYGROUND_VOTE_WINDOW_H hours (default 24), and
an address may vote again after that. Each name is stored only as a keyed hash (an HMAC under a
random key kept in PLAYGROUND_HOME, which is never served): the table holds no address, and a copy
of the database cannot be reversed by trying every IPv4 address. Rows older than the window are
deleted as votes are cast. A vote without a voter (a notebook, the command line) always counts:
whoever runs those owns the library.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .. import limits
from ..blinding import opaque, secret_key
from ..config import get_settings

KEY_FILE = ".voter-key"
MAX_WINDOW_H = 24 * 366 * 10


@dataclass(frozen=True)
class Voter:
    """Who casts a vote in the app: the page's session hash and the client's address ('' if unknown)."""

    session: str = ""
    address: str = ""

    def names(self) -> list[str]:
        """The names stored for this voter: a keyed hash of each part known (one shared name when
        neither is, so unknown visitors together count once)."""
        key = secret_key(get_settings().home, KEY_FILE)
        parts = [f"{kind}:{value}" for kind, value in (("session", self.session), ("address", self.address)) if value]
        return [opaque(key, part, 32) for part in parts or ["anonymous"]]


def window_hours() -> float:
    """PLAYGROUND_VOTE_WINDOW_H, checked: the hours in which one visitor's votes for a record count once."""
    return limits.number(get_settings().vote_window_h, "PLAYGROUND_VOTE_WINDOW_H", 0, MAX_WINDOW_H)


def cast(db: sqlite3.Connection, record_id: int, voter: Voter | None) -> bool:
    """Whether `voter`'s vote for `record_id` counts now; if it does, the voter's names are kept
    for the window. Call inside the write transaction that adds the vote, so two processes never
    both count the same visitor."""
    if voter is None:
        return True
    now = datetime.now(timezone.utc)
    cutoff = now - timedelta(hours=window_hours())
    db.execute("DELETE FROM record_votes WHERE created < ?", (cutoff.isoformat(timespec="seconds"),))
    names = voter.names()
    marks = ", ".join("?" * len(names))
    if db.execute(f"SELECT 1 FROM record_votes WHERE record_id = ? AND voter IN ({marks})",
                  (record_id, *names)).fetchone():
        return False
    stamp = now.isoformat(timespec="seconds")
    db.executemany("INSERT INTO record_votes (record_id, voter, created) VALUES (?, ?, ?)",
                   [(record_id, name, stamp) for name in names])
    return True
