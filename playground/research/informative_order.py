"""Most informative first: the order in which a run asks its raters for the conditions, so that
experts' time goes where their answer teaches the most about the judges.

The orders (`ORDERS`; a study file's `order`, kept by the run):

- ``random``: each rater's own shuffle, seeded by the session seed and the rater's name (the default).
- ``disagreement``: the conditions on which the judges disagree most come first. Each judge gives
  one score per condition: its first declared score column (playground/schema.py: ``clip_prompt``
  for CLIP, ``vlm_score`` for the checklist judge, ...) averaged over the condition's images. Each
  judge's scores are replaced by their rank among the run's conditions, placed on 0-1 (lowest 0,
  highest 1, ties share their mean rank); a condition's disagreement is the standard deviation of
  its ranks over the judges that scored it. Ranks, not the declared scales, because judges use
  their scales differently: CLIP scores sit near 30 of 100 and P(yes) near 0.5, so on the
  declared scales two judges that agree on every ordering would still look far apart.
- ``uncertainty``: the conditions whose checklist judge sits nearest 0.5 come first (its mean
  P(yes) over the condition's images; the vision-language judge's ``vlm_score``, else CLIP's
  ``criteria_score``): 1 - 2 |P(yes) - 0.5|.

A judge that gives every condition the same score tells none apart and is left out. Conditions
an order cannot place (fewer than two judges scored them; no checklist answer) come last, and
conditions it cannot tell apart keep the rater's random order, so raters still differ there.

Every rating records the order its rater was asked in (``ordering`` in ratings.sqlite, a column of
`RatingSession.ratings()`); the run keeps the order it asks in (the table ``run_fields``).
"""

from __future__ import annotations

import math
import sqlite3
from typing import Literal, get_args

import pandas as pd

from .. import schema
from ..errors import PlaygroundError
from ..judges.base import CHECKLISTS

Order = Literal["random", "disagreement", "uncertainty"]
ORDERS: tuple[str, ...] = get_args(Order)
RANDOM: Order = "random"
DECIMALS = 9  # informativeness is compared to this many decimals, so equal values tie exactly


def checked(order: str) -> Order:
    """`order` when it is one of ORDERS; else the sentence that lists them."""
    if order not in ORDERS:
        raise PlaygroundError(f"The order {order!r} is not one of: {', '.join(ORDERS)}.")
    return order  # type: ignore[return-value]


def judge_columns(frame: pd.DataFrame) -> list[str]:
    """One score per judge: the first declared score column of each judge (schema step) that has
    a value in `frame`, in declaration order."""
    first: dict[str, str] = {}
    for name in schema.scores(frame):
        if frame[name].notna().any():
            first.setdefault(schema.COLUMNS[name].step, name)
    return list(first.values())


def disagreement(frame: pd.DataFrame) -> pd.Series:
    """Per condition (`frame`'s ``item``): the standard deviation of the judges' 0-1 ranks of its
    mean scores; NaN where fewer than two judges scored it."""
    means = frame.groupby("item")[judge_columns(frame)].mean()
    telling = means.loc[:, means.nunique() > 1]
    ranks = (telling.rank() - 1) / (telling.count() - 1)
    return ranks.std(axis=1, ddof=0).where(ranks.count(axis=1) >= 2)


def uncertainty(frame: pd.DataFrame) -> pd.Series:
    """Per condition: 1 - 2 |P(yes) - 0.5| of its checklist judge's mean P(yes) (1 at 0.5, 0 at 0
    or 1); NaN where no checklist judge answered."""
    column = next((c for c in CHECKLISTS if c in frame and frame[c].notna().any()), None)
    if column is None:
        return pd.Series(math.nan, index=sorted(set(frame["item"])), dtype=float)
    return 1 - 2 * (frame.groupby("item")[column].mean() - 0.5).abs()


def informativeness(frame: pd.DataFrame, order: str) -> pd.Series:
    """How informative each condition is under `order` (higher first; NaN: unplaced)."""
    measure = {"disagreement": disagreement, "uncertainty": uncertainty}.get(checked(order))
    if measure is None:
        raise PlaygroundError(f"The {order!r} order ranks no condition above another.")
    return measure(frame).round(DECIMALS)


def ordered(frame: pd.DataFrame, shuffled: list[str], order: str) -> list[str]:
    """The conditions `shuffled` (a rater's random order) in `order`: as they are for random, else
    most informative first, unplaced ones last, ties in their shuffled order."""
    if checked(order) == RANDOM:
        return shuffled
    value = informativeness(frame, order).reindex(shuffled).fillna(-math.inf)  # unplaced: last
    return sorted(shuffled, key=lambda item: -value[item])


def m004_rating_order(db: sqlite3.Connection) -> None:
    """Each rating records the order its rater was asked in (those before were all random), and
    the run keeps the order it asks in."""
    db.execute("ALTER TABLE ratings ADD COLUMN ordering TEXT NOT NULL DEFAULT 'random'")
    db.execute("CREATE TABLE run_fields (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


def stored(db: sqlite3.Connection) -> Order:
    """The run's order: the one stored, else random."""
    row = db.execute("SELECT value FROM run_fields WHERE name = 'order'").fetchone()
    return checked(row[0]) if row else RANDOM


def store(db: sqlite3.Connection, order: str) -> None:
    """Keep `order` as the run's order (replacing the one before)."""
    db.execute("INSERT INTO run_fields VALUES ('order', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
               (checked(order),))
