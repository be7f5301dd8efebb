"""The judges' calibrations: for a judge, the model that answered and one checklist criterion, the
isotonic map from its P(yes) to the share of experts who said yes, fitted on a study's checklist
answers (research/calibration.py) and applied to later comparisons (judges/calibrated.py).

One SQLite file, PLAYGROUND_HOME/calibrations.sqlite, with an append-only list of migrations
(playground.db). A new fit is a new row, so every calibration ever fitted stays on record with
its study and date; the latest for a judge, model and criterion is the one applied. It sits
beside the judges (not in stores/, a layer above them) because a judge reads it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import db as store
from ..calibration_stats import IsotonicMap
from ..config import get_settings
from ..errors import PlaygroundError

Key = tuple[str, str, str]  # (judge, model, criterion)


def m001_calibrations(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE calibrations (
            id INTEGER PRIMARY KEY,
            judge TEXT NOT NULL,          -- the judge's id, the schema step of its checklist (vlm, criteria)
            model TEXT NOT NULL,          -- the model that answered (the vision-language model, the CLIP)
            criterion TEXT NOT NULL,      -- criteria.yaml id
            study TEXT NOT NULL,          -- the rated run it was fitted on
            fitted TEXT NOT NULL,         -- ISO 8601, UTC
            n INTEGER NOT NULL,           -- answers fitted on (unsure left out)
            x TEXT NOT NULL,              -- JSON list: the breakpoints' raw P(yes), increasing
            y TEXT NOT NULL               -- JSON list: the calibrated P(yes) at each breakpoint
        )
        """
    )
    db.execute("CREATE INDEX calibrations_key ON calibrations (judge, model, criterion, fitted)")


MIGRATIONS: list[store.Migration] = [m001_calibrations]
COLUMNS = ["judge", "model", "criterion", "study", "fitted", "n", "x", "y"]  # what `table` returns


@dataclass(frozen=True)
class Calibration:
    """One fitted map: whose P(yes) it calibrates (judge, model, criterion), the study it was fitted
    on, when, on how many answers, and the map itself."""

    judge: str
    model: str
    criterion: str
    study: str
    fitted: str
    n: int
    map: IsotonicMap

    @property
    def key(self) -> Key:
        return self.judge, self.model, self.criterion


def _path(path: Path | None) -> Path:
    return path or get_settings().calibrations_path


def save(calibrations: Sequence[Calibration], path: Path | None = None) -> None:
    """Add `calibrations` in one transaction (all or none)."""
    with store.writing(_path(path), MIGRATIONS, "The calibration") as db:
        db.executemany(
            "INSERT INTO calibrations (judge, model, criterion, study, fitted, n, x, y) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(c.judge, c.model, c.criterion, c.study, c.fitted, c.n, json.dumps(list(c.map.x)), json.dumps(list(c.map.y)))
             for c in calibrations])


def table(path: Path | None = None) -> pd.DataFrame:
    """Every calibration stored, oldest first, its breakpoints as lists (none stored: no rows, and
    no file is made)."""
    path = _path(path)
    if not path.is_file():
        return pd.DataFrame(columns=COLUMNS)
    try:
        with store.opened(path, MIGRATIONS) as db:
            found = pd.read_sql_query(f"SELECT {', '.join(COLUMNS)} FROM calibrations ORDER BY fitted, id", db)
    except sqlite3.DatabaseError as exc:  # records, not a cache: said, never set aside or dropped silently
        raise PlaygroundError(f"The judges' calibrations ({path}) cannot be read: {exc}. Restore the file from a "
                              "copy, or move it aside to judge without calibrations (PLAYGROUND_CALIBRATIONS).") from None
    return found.assign(x=[json.loads(v) for v in found["x"]], y=[json.loads(v) for v in found["y"]])


def latest(path: Path | None = None) -> dict[Key, Calibration]:
    """The most recent calibration of each judge, model and criterion."""
    return {(r.judge, r.model, r.criterion): Calibration(r.judge, r.model, r.criterion, r.study, r.fitted, int(r.n),
                                                         IsotonicMap(tuple(r.x), tuple(r.y)))
            for r in table(path).itertuples()}  # oldest first: a later fit replaces an earlier one
