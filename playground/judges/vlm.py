"""The checklist judge: a vision-language model answers each criterion's question about the image
with P(yes), as MAGIC's evaluator does (models/vlm.py reads it off the next-token logits).

`vlm_score` is the mean P(yes) over the image's questions; `vlm_checklist` keeps each answer as
a record. Answers are read through the score cache, per question and image, so a grid redrawn
after one edit asks only about the images that changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from PIL import Image

from ..models.vlm import load_vlm
from .base import Context, Judges
from .criteria import checklists, mean
from .score_cache import cached_readings


def answers(vlm_id: str, images: Sequence[Image.Image], questions: Sequence[str], device: str | None = None) -> list[float]:
    """P(yes) for each pair (images[i], questions[i]), from the score cache where this model
    answered the same question on the same image before."""
    if not images:
        return []
    model = load_vlm(vlm_id, device)
    readings = cached_readings(f"judge:{vlm_id}", images,
                               lambda at: [[p] for p in model.p_yes([images[i] for i in at], [questions[i] for i in at])],
                               extra=questions)
    return [float(r[0]) for r in readings]


@dataclass(frozen=True)
class VlmJudge:
    """`vlm_score` (mean P(yes)), `vlm_checklist` (id, question, p_yes per criterion) and `vlm_id`.
    Every (image, question) pair goes through the model in batches."""

    vlm_id: str
    id: str = "vlm"

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
        criteria = checklists(frame, context.curated)
        pairs = [(i, c.question) for i, row in enumerate(criteria) for c in row]
        found = iter(answers(self.vlm_id, [images[i] for i, _ in pairs], [q for _, q in pairs], context.device))
        p_yes = [[next(found) for _ in row] for row in criteria]
        return frame.assign(
            vlm_score=[mean(p) for p in p_yes],
            vlm_checklist=[[{"id": c.id, "question": c.question, "p_yes": p} for c, p in zip(row, ps)]
                           for row, ps in zip(criteria, p_yes)],
            vlm_id=self.vlm_id,
        )


def build(judges: Judges) -> VlmJudge | None:
    return VlmJudge(judges.vlm_id) if judges.vlm_id else None
