"""Ratings from blind pairwise votes: a Bradley-Terry model, reported on the Elo scale.

Each contestant (a prompt template or a model) has a strength beta; the left side of a vote wins
with probability 1 / (1 + exp(beta_right - beta_left)), and a tie counts as half a win for each
side. The strengths are fitted by Newton's method on the log-likelihood plus a weak Gaussian prior
(mean 0, sigma 2 on the natural-log scale). The prior keeps a contestant that won every vote at a
finite rating and pins the scale's origin, so no contestant needs to be the reference.

    rating = 1000 + 400 / ln(10) * beta     # 400 points: 10-to-1 odds, as in chess
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .errors import PlaygroundError

LEADERBOARD_COLUMNS = ["modality", "contestant", "rating", "se", "low", "high", "wins", "losses", "ties", "votes"]
PRIOR_SIGMA = 2.0  # natural-log strength: 95% of the prior within +-680 rating points
ELO = 400 / math.log(10)
WINNERS = {"left": 1.0, "right": 0.0, "tie": 0.5}  # the left side's score in one vote


def fit(votes: pd.DataFrame) -> pd.DataFrame:
    """One row per contestant in `votes` (columns left, right, winner), best rating first.

    Returns LEADERBOARD_COLUMNS but `modality`: the rating (the mean rating is 1000) and its
    standard error `se` from the inverse Hessian, both in Elo points; low/high = rating +- 1.96 se;
    and the contestant's wins, losses, ties and votes counted from the raw votes.
    """
    _check(votes)
    if votes.empty:
        return pd.DataFrame(columns=LEADERBOARD_COLUMNS[1:])
    contestants = sorted(set(votes["left"]) | set(votes["right"]))
    index = {name: i for i, name in enumerate(contestants)}
    left = votes["left"].map(index).to_numpy(dtype=int)
    right = votes["right"].map(index).to_numpy(dtype=int)
    score = votes["winner"].map(WINNERS).to_numpy(dtype=float)
    beta, covariance = _newton(left, right, score, len(contestants))
    se = np.sqrt(np.diag(covariance)) * ELO
    rating = 1000 + ELO * beta
    won, lost = votes["winner"].eq("left"), votes["winner"].eq("right")
    tied = votes["winner"].eq("tie")
    frame = pd.DataFrame({
        "contestant": contestants, "rating": rating, "se": se, "low": rating - 1.96 * se, "high": rating + 1.96 * se,
        "wins": [int((votes["left"].eq(c) & won).sum() + (votes["right"].eq(c) & lost).sum()) for c in contestants],
        "losses": [int((votes["left"].eq(c) & lost).sum() + (votes["right"].eq(c) & won).sum()) for c in contestants],
        "ties": [int(((votes["left"].eq(c) | votes["right"].eq(c)) & tied).sum()) for c in contestants],
    })
    frame["votes"] = frame["wins"] + frame["losses"] + frame["ties"]
    return frame.sort_values(["rating", "contestant"], ascending=[False, True], ignore_index=True)


def leaderboard(votes: pd.DataFrame) -> pd.DataFrame:
    """`fit` for each modality of `votes` on its own (a template only competes within its modality)."""
    if votes.empty:
        return pd.DataFrame(columns=LEADERBOARD_COLUMNS)
    boards = [fit(group).assign(modality=modality) for modality, group in votes.groupby("modality", sort=True)]
    return pd.concat(boards, ignore_index=True)[LEADERBOARD_COLUMNS]


def _newton(left: np.ndarray, right: np.ndarray, score: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The posterior mode of the strengths (they sum to zero there) and their covariance.

    The log-posterior is strictly concave (the prior adds 1/sigma^2 to every curvature), so Newton
    from zero converges in a handful of steps. The covariance is the inverse of minus the Hessian
    with the shift of all strengths together taken out: votes say nothing about that shift, and
    left in, the prior alone would put about 2 * ELO / sqrt(n) into every `se`, however many votes.
    """
    beta = np.zeros(n)
    for _ in range(100):
        p = 1 / (1 + np.exp(beta[right] - beta[left]))  # chance that the left side wins
        gradient = -beta / PRIOR_SIGMA**2
        np.add.at(gradient, left, score - p)
        np.add.at(gradient, right, p - score)
        curvature = np.eye(n) / PRIOR_SIGMA**2  # minus the Hessian
        weight = p * (1 - p)
        np.add.at(curvature, (left, left), weight)
        np.add.at(curvature, (right, right), weight)
        np.add.at(curvature, (left, right), -weight)
        np.add.at(curvature, (right, left), -weight)
        step = np.linalg.solve(curvature, gradient)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    centre = np.eye(n) - 1 / n
    return beta, centre @ np.linalg.inv(curvature) @ centre


def _check(votes: pd.DataFrame) -> None:
    missing = [c for c in ("left", "right", "winner") if c not in votes.columns]
    if missing:
        raise PlaygroundError(f"The votes need the columns left, right and winner; missing: {', '.join(missing)}.")
    bad = sorted(set(votes["winner"]) - set(WINNERS), key=str)
    if bad:
        raise PlaygroundError(f"A vote's winner must be left, right or tie, got {bad[0]!r}.")
    if votes["left"].eq(votes["right"]).any():
        raise PlaygroundError("A vote must be between two different contestants; one has the same on both sides.")
