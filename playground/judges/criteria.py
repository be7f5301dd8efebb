"""CLIP's expert checklist: each criterion of an image's modality (and subject), answered zero-shot.

A criterion is a pair of statements (what a correct image shows, the typical failure); CLIP's
softmax over the pair is the probability the criterion holds, and it passes above 0.5. The
image's `criteria_score` is the mean probability over its criteria, which "best of N" maximises
when no checklist judge is chosen; `criteria` keeps every criterion's reading as a record.
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
class CriteriaJudge:
    """`criteria_score` (0-1, NaN when the image has no criteria), `criteria_passed` (how many
    pass) and `criteria` (one record per criterion: id, label, p, passed)."""

    scorer_id: str
    id: str = "criteria"

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
        criteria = checklists(frame, context.curated)
        embeddings = context.embeddings(self.scorer_id, images)
        probabilities = clip_probabilities(embeddings, context.scorer(self.scorer_id), criteria)
        return frame.assign(
            criteria_score=[mean(p) for p in probabilities],
            criteria_passed=[sum(v > PASS for v in p) for p in probabilities],
            criteria=[[{"id": c.id, "label": c.label, "p": v, "passed": v > PASS} for c, v in zip(row, p)]
                      for row, p in zip(criteria, probabilities)],
        )


def build(judges: Judges) -> CriteriaJudge:
    return CriteriaJudge(judges.scorer_id)
