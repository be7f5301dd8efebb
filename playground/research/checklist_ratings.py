"""Experts answer the checklist too: the checklist judge's questions, asked of the raters of a run.

A run that asks (a study file's `checklist: true`, kept in the run's `run_fields`;
`RatingSession.ask_checklist` for any other run) shows its raters, beside the style and content
scale, every checklist question of the condition: the criteria of its modality and subject
(criteria.yaml), the very questions the checklist judge asks, each answered yes, no or unsure.
It stays blind: a question says what a correct image shows, never the prompt or the settings
(though it tells the kind of image it expects). A rater answers for the images shown, as for the
scale; the judges' P(yes) is then read over the same images (research/calibration.py).

Answers live in the run's ratings.sqlite, one row per rater, condition and criterion
(`checklist_answers`); rating a condition again replaces its answers with the rating.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .. import db as store
from ..catalog.curated import Criterion, load_curated
from ..errors import PlaygroundError
from .blind import pseudonyms

ANSWERS = ("yes", "no", "unsure")
ANSWER_COLUMNS = ["rater", "item", "criterion", "answer", "shown"]  # what `read` returns


def m005_checklist_answers(db: sqlite3.Connection) -> None:
    """The raters' checklist answers (run_fields, from m004, keeps whether the run asks)."""
    db.execute(
        """
        CREATE TABLE checklist_answers (
            rater TEXT NOT NULL,
            item TEXT NOT NULL,           -- the rated condition (ratings.item)
            criterion TEXT NOT NULL,      -- criteria.yaml id
            answer TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'unsure')),
            created TEXT NOT NULL,
            PRIMARY KEY (rater, item, criterion)
        )
        """
    )


def asked(db: sqlite3.Connection) -> bool:
    """Whether the run asks its raters the checklist (not unless told)."""
    row = db.execute("SELECT value FROM run_fields WHERE name = 'checklist'").fetchone()
    return bool(row) and row[0] == "yes"


def ask(db: sqlite3.Connection, on: bool) -> None:
    """Make the run ask the checklist (`on`) or not, from the next condition shown."""
    db.execute("INSERT INTO run_fields VALUES ('checklist', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
               ("yes" if on else "no",))


def questions(frame: pd.DataFrame, item: str) -> list[Criterion]:
    """The checklist of condition `item` (a run's frame with its `item` column): the criteria of
    its images' modality and subject, in criteria.yaml's order ([] for a free prompt)."""
    first = frame.loc[frame["item"] == item].iloc[0]
    modality = first["modality"] if isinstance(first["modality"], str) else ""
    return load_curated().criteria_for(modality, str(first["subject"]))


def checked(criteria: list[Criterion], answers: Mapping[str, object] | None) -> dict[str, str]:
    """`answers` (criterion id -> yes, no or unsure) when they answer each of `criteria` and
    nothing else, in the criteria's order; else the sentence that says what is wrong."""
    answers = dict(answers or {})
    ids = [c.id for c in criteria]
    stray = [key for key in answers if key not in ids]
    if stray:
        allowed = f"its questions are {', '.join(ids)}" if ids else "it asks no checklist question"
        raise PlaygroundError(f"{stray[0]!r} is not a checklist question of this condition: {allowed}.")
    for criterion in criteria:
        given = answers.get(criterion.id)
        if given in (None, ""):
            raise PlaygroundError(f"Answer every checklist question (yes, no or unsure): {criterion.question!r} "
                                  "has no answer.")
        if given not in ANSWERS:
            raise PlaygroundError(f"The answer to {criterion.question!r} must be yes, no or unsure, got {given!r}.")
    return {key: str(answers[key]) for key in ids}


def store_answers(db: sqlite3.Connection, rater: str, item: str, answers: Mapping[str, str]) -> None:
    """Keep `answers` as the rater's checklist for `item`, replacing any given before."""
    db.execute("DELETE FROM checklist_answers WHERE rater = ? AND item = ?", (rater, item))
    db.executemany("INSERT INTO checklist_answers VALUES (?, ?, ?, ?, ?)",
                   [(rater, item, criterion, answer, store.now_utc()) for criterion, answer in answers.items()])


def read(db: sqlite3.Connection, run_dir: Path) -> pd.DataFrame:
    """Every checklist answer with the images its rater saw (the rating's `shown`), raters named
    by their pseudonym (research/blind.py), never their name."""
    found = pd.read_sql_query(
        "SELECT a.rater, a.item, a.criterion, a.answer, r.shown FROM checklist_answers a "
        "JOIN ratings r ON r.rater = a.rater AND r.item = a.item ORDER BY a.rater, a.item, a.criterion", db)
    return found.assign(rater=found["rater"].map(pseudonyms(run_dir, set(found["rater"]))))[ANSWER_COLUMNS]
