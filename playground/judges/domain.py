"""Domain CLIP scores: each image scored by the CLIP that knows its kind of image.

A histology image is scored by a pathology CLIP, an x-ray by a radiology CLIP, a skin photograph
by a dermatology CLIP, anything else by BiomedCLIP: the scorer registry routes by the template's
modality (`ScorerRegistry.route`), or a user pins one scorer for every image. Images sharing a
scorer are embedded together, each scorer loaded once (through the cache).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from PIL import Image

from ..engine.clip_model import clip_score
from ..engine.models import load_scorer
from ..engine.offline_models import is_offline_model
from ..scorer_registry import load_scorers

AUTO = "auto"  # route each image by its modality


def domain_scorers(modalities: Sequence[str], choice: str, offline: bool) -> list[str]:
    """The scorer id for each image ('' where none is registered): `choice` pinned, or routed."""
    if choice != AUTO:
        return [choice] * len(modalities)
    registry = load_scorers()
    return [registry.route(m, offline) or "" for m in modalities]


def add_domain_scores(
    frame: pd.DataFrame, images: Sequence[Image.Image], general_scorer_id: str, choice: str = AUTO
) -> pd.DataFrame:
    """`frame` with `domain_score` (0-100, against the filled prompt) and `domain_scorer`.

    Offline stand-ins route among themselves when the general scorer is one (tests, the demo).
    """
    ids = domain_scorers(list(frame["modality"]), choice, is_offline_model(general_scorer_id))
    scores = [math.nan] * len(ids)
    for scorer_id in dict.fromkeys(i for i in ids if i):
        rows = [r for r, i in enumerate(ids) if i == scorer_id]
        scorer = load_scorer(scorer_id)
        embeddings = scorer.embed_images([images[r] for r in rows])
        for r, score in zip(rows, clip_score(embeddings, scorer.embed_texts([frame["prompt"].iloc[r] for r in rows]))):
            scores[r] = score
    return frame.assign(domain_score=scores, domain_scorer=ids)
