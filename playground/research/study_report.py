"""A study's statistics: the ratings' medians and IQRs per category, the agreement between raters
(Krippendorff's alpha) and of the judges with the experts and each other; and the original
study's, shipped in prompt_library/study-data, to set a run's beside.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import schema, stats
from ..config import get_settings
from ..csv_files import write_csv


@dataclass(frozen=True)
class StudyReport:
    """The statistics of a study's ratings: median and IQR per category, the box plot, a sentence
    with the counts, and (for a run's ratings) the judges' agreement with the experts."""

    summary: pd.DataFrame
    boxplot: Path
    note: str
    agreement: pd.DataFrame | None = None
    agreement_plot: Path | None = None


def of_ratings(table: pd.DataFrame, long: Callable[[pd.DataFrame], pd.DataFrame], out: Path) -> StudyReport:
    """The statistics of a run's ratings (`table`, as RatingSession.ratings gives them; `long`
    turns them into stats' long layout), written to `out` with agreement.csv and its heat map."""
    observers = {aspect: table.pivot(index="item", columns="rater", values=aspect) for aspect in stats.ASPECTS}
    written = stats.report(long(table), out, observers)
    judges = [column for column in schema.scores(table) if table[column].notna().any()]  # those that ran here
    agreement = stats.agreement(table, judges)
    write_csv(agreement, out / "agreement.csv")
    note = (f"{len(table)} ratings by {table['rater'].nunique()} rater(s). {_raters_sentence(written.raters)} "
            "Below: how each judge agrees with the experts and with each other judge (Spearman's rho, 95% interval).")
    return StudyReport(written.summary.round(2), written.boxplot, note, agreement, stats.agreement_plot(agreement, out))


def _raters_sentence(raters: pd.DataFrame) -> str:
    """Krippendorff's alpha per aspect in words, or why there is none yet."""
    head = "Agreement between raters (Krippendorff's alpha, ordinal; 1 = full agreement, 0 = no better than chance)"
    if raters["note"].nunique() == 1 and raters["note"].iloc[0]:
        return f"{head}: none yet, {raters['note'].iloc[0]}."
    parts = [f"{r.aspect} {r.alpha:.2f}" if not r.note else f"{r.aspect} none ({r.note})" for r in raters.itertuples()]
    return f"{head}, over {raters['units'].max()} condition(s) rated by two or more raters: {'; '.join(parts)}."


@functools.cache
def original_study() -> StudyReport:
    """The original study's medians and IQRs per category, its box plot and a sentence on it,
    computed once per process from the ratings shipped in prompt_library/study-data."""
    ratings = stats.read_ratings(get_settings().original_study)
    written = stats.report(ratings, get_settings().home / "cache" / "original-study")
    note = (f"**The original study** (GLIDE, Kather Lab 2022, MIT): {ratings['subject'].nunique()} prompts rated "
            f"for style and content on the 0-4 scale, {len(ratings)} ratings in all. Median and IQR per category; "
            "rate your own run below and press Show statistics to compare.")
    return StudyReport(written.summary.round(2), written.boxplot, note)
