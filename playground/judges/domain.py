"""Domain CLIP scores: each image scored by the CLIP that knows its kind of image.

A histology image is scored by a pathology CLIP, an x-ray by a radiology CLIP, a skin photograph
by a dermatology CLIP, anything else by BiomedCLIP: the scorer registry routes by the template's
modality (`ScorerRegistry.route`), or a person pins one scorer for every image. Offline, the
stand-ins route among themselves. Images sharing a scorer are embedded together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from PIL import Image

from ..catalog.scorers import load_scorers
from ..models.clip_model import clip_score
from .base import AUTO, Context, Judges


def domain_scorers(modalities: Sequence[str], choice: str, offline: bool) -> list[str]:
    """The scorer id for each image ('' where none is registered): `choice` pinned, or routed."""
    if choice != AUTO:
        return [choice] * len(modalities)
    registry = load_scorers()
    return [registry.route(m, offline) or "" for m in modalities]


@dataclass(frozen=True)
class DomainJudge:
    """`domain_score` (0-100, against the filled prompt) and `domain_scorer` of every image."""

    choice: str
    id: str = "domain"

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
        ids = domain_scorers(list(frame["modality"]), self.choice, context.offline)
        scores = [math.nan] * len(ids)
        for scorer_id in dict.fromkeys(i for i in ids if i):
            rows = [r for r, i in enumerate(ids) if i == scorer_id]
            embeddings = context.embeddings(scorer_id, [images[r] for r in rows])
            texts = context.scorer(scorer_id).embed_texts([frame["prompt"].iloc[r] for r in rows])
            for r, score in zip(rows, clip_score(embeddings, texts)):
                scores[r] = score
        return frame.assign(domain_score=scores, domain_scorer=ids)


def build(judges: Judges) -> DomainJudge | None:
    return DomainJudge(judges.domain_scorer_id) if judges.domain_scorer_id else None
