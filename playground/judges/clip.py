"""CLIP scores of each image: against its filled prompt and against the bare subject.

Both are torchmetrics' CLIPScore, 100 x max(cosine, 0); the general CLIP and the medical CLIP
are one judge each, filling their own pair of declared columns (schema.CLIP, schema.MEDCLIP).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd
import torch
from PIL import Image

from ..comparison import ComparisonResult
from ..errors import PlaygroundError
from ..models.clip_model import ClipScorer, clip_score
from ..schema import CLIP, MEDCLIP
from .base import Context, Judges


def scored(frame: pd.DataFrame, image_embeddings: torch.Tensor, scorer: ClipScorer,
           columns: tuple[str, str, str]) -> pd.DataFrame:
    """`frame` with `columns` (image vs filled prompt, image vs bare subject, scorer id)."""
    prompt_column, subject_column, scorer_column = columns
    return frame.assign(**{
        prompt_column: clip_score(image_embeddings, scorer.embed_texts(list(frame["prompt"]))),
        subject_column: clip_score(image_embeddings, scorer.embed_texts(list(frame["subject"]))),
        scorer_column: scorer.scorer_id,
    })


@dataclass(frozen=True)
class ClipJudge:
    """A CLIP's two scores of every image (`columns`: schema.CLIP or schema.MEDCLIP)."""

    id: str
    scorer_id: str
    columns: tuple[str, str, str]

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
        return scored(frame, context.embeddings(self.scorer_id, images), context.scorer(self.scorer_id), self.columns)


def build(judges: Judges) -> ClipJudge:
    return ClipJudge("clip", judges.scorer_id, CLIP)


def build_medical(judges: Judges) -> ClipJudge | None:
    return ClipJudge("medclip", judges.medical_scorer_id, MEDCLIP) if judges.medical_scorer_id else None


def add_clip_scores(
    result: ComparisonResult, scorer: ClipScorer, columns: tuple[str, str, str] = CLIP,
    image_embeddings: torch.Tensor | None = None,
) -> ComparisonResult:
    """The result with `columns` added by `scorer`, outside a panel (a notebook scoring images it
    drew itself): image vs its filled prompt, image vs the bare subject (both 0-100), the scorer's
    id. Each image is embedded once for both scores (or pass `image_embeddings` already computed).
    """
    if not result.images:
        raise PlaygroundError("The comparison has no images to score.")
    if image_embeddings is None:
        image_embeddings = scorer.embed_images(result.images)
    return replace(result, frame=scored(result.frame, image_embeddings, scorer, columns))
