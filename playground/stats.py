"""The rating statistics' public import path: ``from playground import stats``.

The analysis lives in playground/research/stats.py; this module only names it, and like it loads
no torch.
"""

from .research.stats import (
    ASPECTS, agreement, agreement_plot, holm, kruskal_across, krippendorff_alpha, pairwise_kruskal,
    pairwise_mannwhitney, read_observers, read_ratings, report, spearman, spearman_ci, summarize,
)

__all__ = [
    "ASPECTS", "agreement", "agreement_plot", "holm", "kruskal_across", "krippendorff_alpha", "pairwise_kruskal",
    "pairwise_mannwhitney", "read_observers", "read_ratings", "report", "spearman", "spearman_ci", "summarize",
]
