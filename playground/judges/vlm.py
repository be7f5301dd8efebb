"""The checklist judge: a vision-language model answers each criterion's question about the image
with P(yes), as MAGIC's evaluator does (models/vlm.py reads it off the next-token logits).

`vlm_score` is the mean P(yes) over the image's questions, those whose gate failed left out (as
CLIP's checklist does: judges.criteria.read); `vlm_checklist` keeps each answer as a record, a
skipped one marked so (it is still asked: one reading of the image answers every question).
Beside each P(yes) the raw P("Yes") over the whole vocabulary is kept (VQAScore as published,
`raw_yes`; models.vlm.Answer), and `vlm_raw_yes` is its mean over the same questions.
Answers are read through the score cache, per question and image, so a grid redrawn after one
edit asks only about the images that changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from PIL import Image

from ..config import get_settings
from ..models.vlm import Answer, load_vlm
from .base import Context, Judges
from .criteria import checklists, mean, read
from .score_cache import cached_readings


def answers(vlm_id: str, images: Sequence[Image.Image], questions: Sequence[Sequence[str]],
            device: str | None = None) -> list[list[Answer]]:
    """The answer (P(yes) renormalised and raw) to each of images[i]'s questions[i], from the score
    cache where this model answered the same question on the same image before; the others are
    asked together, each image read once (`checklist_answers`); the model is loaded only then.
    Answers with image splitting off (PLAYGROUND_JUDGE_SPLIT) are cached apart: the judge sees
    other pixels."""
    pairs = [(i, q) for i, asked in enumerate(questions) for q in asked]
    if not pairs:
        return [[] for _ in images]
    split = get_settings().judge_split

    def ask(at: list[int]) -> list[Answer]:
        """Readings for the pairs at these positions (each stored as its two numbers)."""
        model = load_vlm(vlm_id, device, split)
        uncached: dict[int, list[str]] = {}
        for k in at:
            uncached.setdefault(pairs[k][0], []).append(pairs[k][1])
        found = model.checklist_answers([images[i] for i in uncached], list(uncached.values()))
        by_image = {i: iter(answered) for i, answered in zip(uncached, found)}
        return [next(by_image[pairs[k][0]]) for k in at]

    # Named anew when the raw P("Yes") joined P(yes): answers stored as one number are asked again.
    judge = f"judge-answers:{vlm_id}" + ("" if split else "|one-frame")
    readings = iter(cached_readings(judge, [images[i] for i, _ in pairs], ask,
                                    extra=[q for _, q in pairs]))
    return [[Answer(*map(float, next(readings))) for _ in asked] for asked in questions]


@dataclass(frozen=True)
class VlmJudge:
    """`vlm_score` (mean P(yes) over the questions not skipped), `vlm_raw_yes` (mean raw P("Yes")
    over the same), `vlm_checklist` (id, question, p_yes, raw_yes, require, skipped per criterion)
    and `vlm_id`.
    Each image is read once for all its questions that are not in the score cache."""

    vlm_id: str
    id: str = "vlm"

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
        criteria = checklists(frame, context.curated)
        found = answers(self.vlm_id, images, [[c.question for c in row] for row in criteria], context.device)
        readings = [read(row, [a.p_yes for a in answered]) for row, answered in zip(criteria, found)]
        return frame.assign(
            vlm_score=[r.score for r in readings],
            vlm_raw_yes=[mean([a.raw_yes for a, skip in zip(answered, r.skipped) if not skip])
                         for answered, r in zip(found, readings)],
            vlm_checklist=[[{"id": c.id, "question": c.question, "p_yes": a.p_yes, "raw_yes": a.raw_yes,
                             "require": list(c.require), "skipped": skip} for c, a, skip in zip(row, answered, r.skipped)]
                           for row, answered, r in zip(criteria, found, readings)],
            vlm_id=self.vlm_id,
        )


def build(judges: Judges) -> VlmJudge | None:
    return VlmJudge(judges.vlm_id) if judges.vlm_id else None
