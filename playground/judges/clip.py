"""CLIP scores of each image: against its filled prompt and against the bare subject.

Both are torchmetrics' CLIPScore, 100 x max(cosine, 0); the general CLIP and the medical CLIP
fill the same pair of declared columns each (schema.CLIP, schema.MEDCLIP).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ..comparison import ComparisonResult
from ..engine.clip_model import ClipScorer, clip_score
from ..errors import PlaygroundError
from ..schema import CLIP


def add_clip_scores(
    result: ComparisonResult, scorer: ClipScorer, columns: tuple[str, str, str] = CLIP,
    image_embeddings: torch.Tensor | None = None,
) -> ComparisonResult:
    """The result with `columns` added: image vs its filled prompt, image vs the bare subject
    (both 0-100), and the scorer's id; `columns` is schema.CLIP or schema.MEDCLIP.

    Each image is embedded once for both scores (or pass `image_embeddings` already computed).
    """
    if not result.images:
        raise PlaygroundError("The comparison has no images to score.")
    if image_embeddings is None:
        image_embeddings = scorer.embed_images(result.images)
    prompt_column, subject_column, scorer_column = columns
    frame = result.frame.copy()
    frame[prompt_column] = clip_score(image_embeddings, scorer.embed_texts(list(frame["prompt"])))
    frame[subject_column] = clip_score(image_embeddings, scorer.embed_texts(list(frame["subject"])))
    frame[scorer_column] = scorer.scorer_id
    return replace(result, frame=frame)
