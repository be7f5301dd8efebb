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


def answers(vlm_id: str, images: Sequence[Image.Image], questions: Sequence[Sequence[str]],
            device: str | None = None) -> list[list[float]]:
    """P(yes) for each of images[i]'s questions[i], from the score cache where this model answered
    the same question on the same image before; the others are asked together, each image read
    once (`checklist_p_yes`)."""
    pairs = [(i, q) for i, asked in enumerate(questions) for q in asked]
    if not pairs:
        return [[] for _ in images]
    model = load_vlm(vlm_id, device)

    def ask(at: list[int]) -> list[list[float]]:
        """Readings for the pairs at these positions (each a list of one P(yes))."""
        uncached: dict[int, list[str]] = {}
        for k in at:
            uncached.setdefault(pairs[k][0], []).append(pairs[k][1])
        found = model.checklist_p_yes([images[i] for i in uncached], list(uncached.values()))
        by_image = {i: iter(p_yes) for i, p_yes in zip(uncached, found)}
        return [[next(by_image[pairs[k][0]])] for k in at]

    readings = iter(cached_readings(f"judge:{vlm_id}", [images[i] for i, _ in pairs], ask, extra=[q for _, q in pairs]))
    return [[float(next(readings)[0]) for _ in asked] for asked in questions]


@dataclass(frozen=True)
class VlmJudge:
    """`vlm_score` (mean P(yes)), `vlm_checklist` (id, question, p_yes per criterion) and `vlm_id`.
    Each image is read once for all its questions that are not in the score cache."""

    vlm_id: str
    id: str = "vlm"

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
        criteria = checklists(frame, context.curated)
        p_yes = answers(self.vlm_id, images, [[c.question for c in row] for row in criteria], context.device)
        return frame.assign(
            vlm_score=[mean(p) for p in p_yes],
            vlm_checklist=[[{"id": c.id, "question": c.question, "p_yes": p} for c, p in zip(row, ps)]
                           for row, ps in zip(criteria, p_yes)],
            vlm_id=self.vlm_id,
        )


def build(judges: Judges) -> VlmJudge | None:
    return VlmJudge(judges.vlm_id) if judges.vlm_id else None
