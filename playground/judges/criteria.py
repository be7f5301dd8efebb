"""Expert criteria checklists: each criterion of an image's modality, answered by CLIP zero-shot.

A criterion is a pair of statements (what a correct image shows, the typical failure); CLIP's
softmax over the pair is the probability the criterion holds, and it passes above 0.5. The image's
criteria score is the mean probability over its modality's criteria, which "best of N" maximises.
"""

from __future__ import annotations

import math

import pandas as pd
import torch

from ..curated import Curated
from ..engine.clip_model import ClipScorer

PASS = 0.5


def add_criteria(frame: pd.DataFrame, image_embeddings: torch.Tensor, scorer: ClipScorer, curated: Curated) -> pd.DataFrame:
    """`frame` with `criteria_score` (0-1, NaN when the modality has no criteria), `criteria_passed`
    ("k/n") and `criteria` (the checklist, e.g. "✓ H&E stained tissue section 0.71 · ✗ ...")."""
    scores, passed, checklists = [], [], []
    for i, modality in enumerate(frame["modality"]):
        criteria = curated.criteria_for(modality)
        probabilities = [
            float(scorer.zero_shot(image_embeddings[i : i + 1], [c.present, c.absent])[0, 0]) for c in criteria
        ]
        scores.append(sum(probabilities) / len(probabilities) if probabilities else math.nan)
        passed.append(f"{sum(p > PASS for p in probabilities)}/{len(probabilities)}" if probabilities else "")
        checklists.append(
            " · ".join(f"{'✓' if p > PASS else '✗'} {c.label} {p:.2f}" for c, p in zip(criteria, probabilities))
        )
    return frame.assign(criteria_score=scores, criteria_passed=passed, criteria=checklists)
