"""Marks that compare images with each other: the best of each cell's N seeds, the best of each row."""

from __future__ import annotations

import pandas as pd

from ..schema import COLUMNS, PRIMARY_SCORE
from .base import CHECKLISTS


def best_of_n(frame: pd.DataFrame, by: str | None = None) -> pd.Series:
    """True for the one image of each grid cell (row x column, N seeds) with the highest checklist
    score `by`: "vlm_score" or "criteria_score" (default: the checklist judge's when it answered,
    else CLIP's); cells without criteria fall back to the primary CLIP score (on its declared
    scale, placed on 0-1); unscored images never win."""
    by = by or next((c for c in CHECKLISTS if c in frame), CHECKLISTS[1])
    fallback = frame[PRIMARY_SCORE].map(COLUMNS[PRIMARY_SCORE].normalised)
    key = frame[by].where(frame[by].notna(), fallback) if by in frame else fallback
    best = key.dropna().groupby([frame["row"], frame["column"]]).idxmax()
    return pd.Series(frame.index.isin(best.values), index=frame.index)


def best_in_row(frame: pd.DataFrame, score: str = PRIMARY_SCORE) -> pd.Series:
    """True for the image with the highest `score` in each grid row (first one on ties); images
    without a score (not real images) are never best."""
    best = frame.dropna(subset=[score]).groupby("row")[score].idxmax()
    return pd.Series(frame.index.isin(best.values), index=frame.index)
