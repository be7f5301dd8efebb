"""Does a synthetic chest x-ray show the finding its prompt asks for? RoentGen's validation idea.

For an x-ray image whose prompt (or subject) names a finding the proxy classifier knows
(findings.yaml: cardiomegaly, effusion, pneumothorax, edema, ...), `finding_score` is the
classifier's probability of that finding (op-norm calibrated: above 0.5 is positive at the
classifier's operating point). Other images keep the columns blank. Offline, a random-weight
instance of the same classifier scores, and `finding_model` says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from PIL import Image

from ..models.xray import finding_probabilities, load_classifier
from .base import Context, Judges

XRAY = "x-ray"


@dataclass(frozen=True)
class FindingJudge:
    """`finding`, `finding_score` and `finding_model` (blank where no finding applies)."""

    id: str = "finding"

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
        curated = context.curated
        named = [curated.finding_in(p) or curated.finding_in(s) if m == XRAY else ""
                 for m, p, s in zip(frame["modality"], frame["prompt"], frame["subject"])]
        rows = [i for i, finding in enumerate(named) if finding]
        scores, models = [math.nan] * len(named), [""] * len(named)
        if rows:
            model_id, model = load_classifier(offline=context.offline, device=context.device)
            for i, probabilities in zip(rows, finding_probabilities(model, [images[i] for i in rows])):
                scores[i], models[i] = probabilities[named[i]], model_id
        return frame.assign(finding=named, finding_score=scores, finding_model=models)


def build(judges: Judges) -> FindingJudge | None:
    return FindingJudge() if judges.finding else None
