"""The Arena's votes: blind choices between two images drawn on the same subject, seed and setting.

A voter sees two images and picks one (or calls a tie) without knowing which prompt template, or
which model, made which. Each vote is one row, never changed afterwards; ratings are computed from
all of them (playground.bradley_terry). A drawn pair carries a random draw id, unique among the
votes, so a pair counts once however often its vote is sent. The votes live in the library's
SQLite file, in their own table with its own append-only migrations, named ``m00N_arena...`` so
they never meet the library's names in the shared ``_migrations`` table.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .. import bradley_terry, limits
from .. import db as store
from ..config import get_settings
from ..csv_files import write_csv
from ..errors import PlaygroundError
from ..files import atomic, download_folder
from ..types import MAX_SEED

KINDS = ("template", "model")
WINNERS = tuple(bradley_terry.WINNERS)


def m001_arena_votes(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE arena_votes (
            id INTEGER PRIMARY KEY,
            created TEXT NOT NULL,            -- ISO 8601, UTC
            kind TEXT NOT NULL CHECK (kind IN ('template', 'model')),
            modality TEXT NOT NULL,
            subject TEXT NOT NULL,
            model_id TEXT NOT NULL,
            setting TEXT NOT NULL,
            seed INTEGER NOT NULL,
            "left" TEXT NOT NULL,             -- the contestants: template ids or model ids
            "right" TEXT NOT NULL,
            left_prompt TEXT NOT NULL,
            right_prompt TEXT NOT NULL,
            left_image TEXT NOT NULL DEFAULT '', -- PNG paths
            right_image TEXT NOT NULL DEFAULT '',
            winner TEXT NOT NULL CHECK (winner IN ('left', 'right', 'tie')),
            CHECK ("left" <> "right")
        )
        """
    )
    db.execute("CREATE INDEX arena_votes_kind_modality ON arena_votes(kind, modality)")


def m002_arena_draw_id(db: sqlite3.Connection) -> None:
    """One vote per drawn pair: each vote names its draw, once (votes cast before have none)."""
    db.execute("ALTER TABLE arena_votes ADD COLUMN draw_id TEXT")
    db.execute("CREATE UNIQUE INDEX arena_votes_draw_id ON arena_votes(draw_id)")


MIGRATIONS: list[store.Migration] = [m001_arena_votes, m002_arena_draw_id]


@dataclass(frozen=True)
class Pair:
    """What one voter is shown: two contestants' images of the same subject, model, setting and seed.

    `kind` says what the contestants are: "template" (left and right are template ids, drawn with
    `model_id`) or "model" (left and right are model ids; `model_id` is then ''). `draw_id` is made
    afresh for every pair (`dataclasses.replace` too): a pair is one drawing, voted on once.
    """

    kind: str
    modality: str
    subject: str
    model_id: str
    setting: str
    seed: int
    left: str
    right: str
    left_prompt: str
    right_prompt: str
    left_image: str = ""
    right_image: str = ""
    draw_id: str = field(default_factory=lambda: uuid.uuid4().hex, init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PlaygroundError(f"An Arena pair's kind must be template or model, got {self.kind!r}.")
        limit = get_settings().max_prompt_chars
        for name, value in asdict(self).items():
            if name not in ("kind", "seed", "draw_id"):
                limits.text(value, f"The pair's {name.replace('_', ' ')}", limit)
        limits.whole_number(self.seed, "The pair's seed", 0, MAX_SEED)
        if not self.left or not self.right or self.left == self.right:
            raise PlaygroundError(
                f"An Arena pair needs two different contestants, got {self.left!r} and {self.right!r}.")


class Arena:
    """The Arena's votes, stored in the library's SQLite file at `path`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path or get_settings().library_path)

    def vote(self, pair: Pair, winner: str) -> int:
        """Record one voter's choice for `pair` ("left", "right" or "tie"); returns the vote's id.
        A pair already voted on is refused: each drawing counts once."""
        if winner not in WINNERS:
            raise PlaygroundError(f"A vote's winner must be left, right or tie, got {winner!r}.")
        values = {**asdict(pair), "seed": int(pair.seed), "created": store.now_utc(), "winner": winner}
        columns = ", ".join(f'"{name}"' for name in values)
        placeholders = ", ".join(f":{name}" for name in values)
        with store.writing(self.path, MIGRATIONS, "The vote") as db:
            row = db.execute(f"INSERT INTO arena_votes ({columns}) VALUES ({placeholders}) "
                             "ON CONFLICT(draw_id) DO NOTHING RETURNING id", values).fetchone()
        if row is None:
            raise PlaygroundError("This pair has been voted on already, and a pair counts once: draw a new pair.")
        return row["id"]

    def votes(self, modality: str = "", kind: str = "template") -> pd.DataFrame:
        """Every vote of `kind` (in `modality`, if given), oldest first, all columns."""
        if kind not in KINDS:
            raise PlaygroundError(f"The Arena's kind must be template or model, got {kind!r}.")
        query, params = "SELECT * FROM arena_votes WHERE kind = ?", [kind]
        if modality:
            query, params = query + " AND modality = ?", params + [modality]
        with store.opened(self.path, MIGRATIONS) as db:
            return pd.read_sql_query(query + " ORDER BY id", db, params=params)

    def leaderboard(self, kind: str = "template") -> pd.DataFrame:
        """Bradley-Terry ratings of the contestants of `kind`, per modality (bradley_terry.LEADERBOARD_COLUMNS)."""
        return bradley_terry.leaderboard(self.votes(kind=kind))

    def export_for_download(self, kind: str = "template") -> Path:
        """The leaderboard of `kind` as CSV, in a fresh folder inside the served outputs folder."""
        return self.export(download_folder("leaderboard") / f"arena-{kind}-leaderboard.csv", kind)

    def export(self, path: Path, kind: str = "template") -> Path:
        """The leaderboard of `kind` as CSV, or its raw votes as JSONL when `path` ends with .jsonl."""
        path = Path(path)
        if path.suffix not in (".csv", ".jsonl"):
            raise PlaygroundError(f"The Arena exports to .csv (leaderboard) or .jsonl (votes), not {path.name!r}.")
        if path.suffix == ".csv":
            return write_csv(self.leaderboard(kind), path)
        with atomic(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(vote, ensure_ascii=False) + "\n"
                         for vote in self.votes(kind=kind).to_dict("records"))
        return path


def open_arena() -> Arena:
    """The Arena of the configured library file (PLAYGROUND_LIBRARY)."""
    return Arena()
