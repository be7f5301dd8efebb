"""CLIP's expert checklist: each criterion of an image's modality (and subject), answered zero-shot.

A criterion is a pair of statements (what a correct image shows, the typical failure); CLIP's
softmax over the pair is the probability the criterion holds, and it passes above 0.5. A
criterion whose gate (`require`) fails is skipped: left out of the score and the passed count
(`read`, shared with the vision-language checklist judge). The image's `criteria_score` is the
mean probability over its criteria not skipped, which "best of N" maximises when no checklist
judge is chosen; `criteria` keeps every criterion's reading as a record.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from PIL import Image

from ..catalog.curated import Criterion, Curated
from ..models.clip_model import ClipScorer
from .base import Context, Judges

PASS = 0.5


def checklists(frame: pd.DataFrame, curated: Curated) -> list[list[Criterion]]:
    """Each image's criteria: those of its modality, and of its subject where they name subjects."""
    return [curated.criteria_for(m, s) for m, s in zip(frame["modality"], frame["subject"])]


def clip_probabilities(image_embeddings: torch.Tensor, scorer: ClipScorer, criteria: list[list[Criterion]]) -> list[list[float]]:
    """For each image, CLIP's probability that each of its criteria holds."""
    return [[float(scorer.zero_shot(image_embeddings[i : i + 1], [c.present, c.absent])[0, 0]) for c in row]
            for i, row in enumerate(criteria)]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


@dataclass(frozen=True)
class Reading:
    """One image's checklist as a judge answered it: `p` (the probability each criterion holds)
    and `skipped` (a gate of it failed, directly or through a gate of its gate)."""

    p: list[float]
    skipped: list[bool]

    @property
    def score(self) -> float:
        """Mean probability over the criteria not skipped (a failed gate counts: it holds with its
        low p); NaN without criteria."""
        return mean([v for v, skip in zip(self.p, self.skipped) if not skip])

    @property
    def passed(self) -> list[bool]:
        """Each criterion passes: it holds (p above 0.5) and is not skipped."""
        return [v > PASS and not skip for v, skip in zip(self.p, self.skipped)]


def read(criteria: Sequence[Criterion], p: Sequence[float]) -> Reading:
    """The reading of an image's `criteria` answered with probabilities `p`: a criterion is skipped
    when one of its gates fails (p <= 0.5) or is skipped itself. Gates are among `criteria`: a gate
    applies wherever its criterion does (checked on loading, `check_gates`)."""
    held = {c.id: v > PASS for c, v in zip(criteria, p)}
    gates = {c.id: c.require for c in criteria}
    skipped: dict[str, bool] = {}

    def is_skipped(criterion_id: str) -> bool:
        if criterion_id not in skipped:
            skipped[criterion_id] = any(not held[g] or is_skipped(g) for g in gates[criterion_id])
        return skipped[criterion_id]

    return Reading(list(p), [is_skipped(c.id) for c in criteria])


@dataclass(frozen=True)
class CriteriaJudge:
    """`criteria_score` (0-1, NaN when the image has no criteria), `criteria_passed` (how many
    pass, skipped ones not) and `criteria` (one record per criterion: id, label, p, passed,
    require (its gates), skipped)."""

    scorer_id: str
    id: str = "criteria"

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
        criteria = checklists(frame, context.curated)
        embeddings = context.embeddings(self.scorer_id, images)
        readings = [read(row, p) for row, p in
                    zip(criteria, clip_probabilities(embeddings, context.scorer(self.scorer_id), criteria))]
        return frame.assign(
            criteria_score=[r.score for r in readings],
            criteria_passed=[sum(r.passed) for r in readings],
            criteria=[[{"id": c.id, "label": c.label, "p": v, "passed": ok, "require": list(c.require), "skipped": skip}
                       for c, v, ok, skip in zip(row, r.p, r.passed, r.skipped)]
                      for row, r in zip(criteria, readings)],
        )


def build(judges: Judges) -> CriteriaJudge:
    return CriteriaJudge(judges.scorer_id)
