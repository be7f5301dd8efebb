"""How well a judge's probabilities match yes/no answers: ranking, agreement, calibration.

Pure maths on arrays, used by the study's checklist report (research/calibration.py): AUROC (does
the judge rank the images experts said yes to above those they said no to), Cohen's kappa of the
judge's verdict at 0.5 with the experts' answer, the reliability diagram's bins and the expected
calibration error, and the isotonic fit (pool-adjacent-violators) that maps a judge's P(yes) to
the share of experts who said yes. Labels are 1 (yes) and 0 (no); an undefined number is NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize as scipy_optimize
from scipy import stats as scipy_stats

BINS = 10  # equal-width bins of P(yes) for the reliability diagram and the ECE
THRESHOLD = 0.5  # the judge says yes above it, as a checklist criterion passes
RELIABILITY_COLUMNS = ["bin_low", "bin_high", "n", "mean_p", "observed"]


def _arrays(labels: Sequence[float], p: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.asarray(labels, dtype=float), np.asarray(p, dtype=float)
    if y.shape != x.shape:
        raise ValueError(f"{len(y)} labels but {len(x)} probabilities")
    return y, x


def auroc(labels: Sequence[float], p: Sequence[float]) -> float:
    """The area under the ROC curve: the chance that a random yes gets a higher P(yes) than a
    random no, ties counting half (the Mann-Whitney U over n_yes x n_no). NaN without both."""
    y, x = _arrays(labels, p)
    positives, negatives = int((y == 1).sum()), int((y == 0).sum())
    if not positives or not negatives:
        return math.nan
    u = scipy_stats.mannwhitneyu(x[y == 1], x[y == 0], method="asymptotic").statistic  # no exact p-value wanted
    return float(u / (positives * negatives))


def cohen_kappa(labels: Sequence[float], p: Sequence[float], threshold: float = THRESHOLD) -> float:
    """Cohen's kappa between the answers and the judge's verdict (yes when P(yes) > threshold):
    agreement beyond what the two sides' rates of yes give by chance. NaN when chance alone
    agrees fully (both sides always say the same one thing)."""
    y, x = _arrays(labels, p)
    if not len(y):
        return math.nan
    said = (x > threshold).astype(float)
    observed = float((said == y).mean())
    chance = float(said.mean() * y.mean() + (1 - said.mean()) * (1 - y.mean()))
    return math.nan if chance == 1 else (observed - chance) / (1 - chance)


def reliability(labels: Sequence[float], p: Sequence[float], bins: int = BINS) -> pd.DataFrame:
    """The reliability diagram's points: for each non-empty equal-width bin of P(yes), its edges,
    how many answers fall in it, their mean P(yes) and the share of them that are yes (a
    calibrated judge's points lie on the diagonal)."""
    y, x = _arrays(labels, p)
    index = np.minimum((x * bins).astype(int), bins - 1)  # P(yes) = 1 falls in the last bin
    rows = [{"bin_low": b / bins, "bin_high": (b + 1) / bins, "n": int((index == b).sum()),
             "mean_p": float(x[index == b].mean()), "observed": float(y[index == b].mean())}
            for b in range(bins) if (index == b).any()]
    return pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)


def expected_calibration_error(labels: Sequence[float], p: Sequence[float], bins: int = BINS) -> float:
    """The mean distance between P(yes) and the share of yes, over `bins` equal-width bins
    weighted by their answers: 0 for a calibrated judge. NaN without answers."""
    points = reliability(labels, p, bins)
    if points.empty:
        return math.nan
    return float((points["n"] * (points["mean_p"] - points["observed"]).abs()).sum() / points["n"].sum())


@dataclass(frozen=True)
class IsotonicMap:
    """A non-decreasing map from P(yes) to calibrated P(yes), as breakpoints: linear between
    them, flat beyond the first and the last (as scikit-learn's IsotonicRegression predicts with
    out_of_bounds="clip")."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, p: float | Sequence[float] | np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(p, dtype=float), self.x, self.y)


def isotonic_fit(p: Sequence[float], labels: Sequence[float]) -> IsotonicMap:
    """The least-squares non-decreasing fit of `labels` on `p` (pool adjacent violators, scipy's):
    equal P(yes) values are pooled first, each weighted by its answers, then neighbouring blocks
    whose means fall are merged until the means rise. Each block becomes the breakpoints at its
    lowest and highest P(yes)."""
    y, x = _arrays(labels, p)
    if not len(x):
        raise ValueError("an isotonic fit needs at least one answer")
    values, at = np.unique(x, return_inverse=True)
    counts = np.bincount(at)
    fit = scipy_optimize.isotonic_regression(np.bincount(at, weights=y) / counts, weights=counts)
    edges = [i for start, end in zip(fit.blocks[:-1], fit.blocks[1:]) for i in dict.fromkeys((start, end - 1))]
    return IsotonicMap(tuple(values[edges].tolist()), tuple(fit.x[edges].tolist()))
