"""Expert criteria checklists: each criterion of an image's modality (and subject), answered by
CLIP zero-shot and, when a vision-language judge is chosen, by the judge.

CLIP: a criterion is a pair of statements (what a correct image shows, the typical failure); its
softmax over the pair is the probability the criterion holds, and it passes above 0.5. The
image's criteria score is the mean probability over its criteria, which "best of N" maximises.
The judge (engine/vlm.py) answers each criterion's question with P(yes), as MAGIC's evaluator
does; its mean is `judge_score`, and `judge_checklist` puts both answers side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch
from PIL import Image

from ..curated import Criterion, Curated
from ..engine.clip_model import ClipScorer
from ..engine.vlm import VisionJudge

PASS = 0.5


def checklists(frame: pd.DataFrame, curated: Curated) -> list[list[Criterion]]:
    """Each image's criteria: those of its modality, and of its subject where they name subjects."""
    return [curated.criteria_for(m, s) for m, s in zip(frame["modality"], frame["subject"])]


def clip_probabilities(image_embeddings: torch.Tensor, scorer: ClipScorer, criteria: list[list[Criterion]]) -> list[list[float]]:
    """For each image, CLIP's probability that each of its criteria holds."""
    return [[float(scorer.zero_shot(image_embeddings[i : i + 1], [c.present, c.absent])[0, 0]) for c in row]
            for i, row in enumerate(criteria)]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def add_criteria(frame: pd.DataFrame, image_embeddings: torch.Tensor, scorer: ClipScorer, curated: Curated) -> pd.DataFrame:
    """`frame` with `criteria_score` (0-1, NaN when the image has no criteria), `criteria_passed`
    ("k/n") and `criteria` (the checklist, e.g. "✓ H&E stained tissue section 0.71 · ✗ ...")."""
    criteria = checklists(frame, curated)
    probabilities = clip_probabilities(image_embeddings, scorer, criteria)
    return frame.assign(
        criteria_score=[_mean(p) for p in probabilities],
        criteria_passed=[f"{sum(v > PASS for v in p)}/{len(p)}" if p else "" for p in probabilities],
        criteria=[" · ".join(f"{'✓' if v > PASS else '✗'} {c.label} {v:.2f}" for c, v in zip(row, p))
                  for row, p in zip(criteria, probabilities)],
    )


def add_judge(
    frame: pd.DataFrame, images: Sequence[Image.Image], image_embeddings: torch.Tensor, scorer: ClipScorer,
    judge: VisionJudge, curated: Curated,
) -> pd.DataFrame:
    """`frame` with `judge_score` (mean P(yes) over the image's questions), `judge_checklist`
    ("question → judge 0.64 · CLIP 0.71", one per criterion, " | " between) and `judge_id`.
    Every (image, question) pair goes through the judge in batches."""
    criteria = checklists(frame, curated)
    pairs = [(i, c.question) for i, row in enumerate(criteria) for c in row]
    answers = iter(judge.p_yes([images[i] for i, _ in pairs], [q for _, q in pairs]))
    p_yes = [[next(answers) for _ in row] for row in criteria]
    clip = clip_probabilities(image_embeddings, scorer, criteria)
    return frame.assign(
        judge_score=[_mean(p) for p in p_yes],
        judge_checklist=[" | ".join(f"{c.question} → judge {j:.2f} · CLIP {v:.2f}" for c, j, v in zip(row, js, vs))
                         for row, js, vs in zip(criteria, p_yes, clip)],
        judge_id=judge.judge_id,
    )


def verdicts(
    frame: pd.DataFrame, images: Sequence[Image.Image], scorer: ClipScorer, judge: VisionJudge | None, curated: Curated,
) -> list[list[tuple[Criterion, float]]]:
    """Each image's criteria with the probability that each holds: the judge's P(yes) when a
    judge is chosen, else CLIP's; a criterion passes above PASS. What refinement turns into
    feedback (readings come from the score cache when the images were judged before)."""
    criteria = checklists(frame, curated)
    if judge is None:
        probabilities = clip_probabilities(scorer.embed_images(images), scorer, criteria)
    else:
        pairs = [(i, c.question) for i, row in enumerate(criteria) for c in row]
        answers = iter(judge.p_yes([images[i] for i, _ in pairs], [q for _, q in pairs]))
        probabilities = [[next(answers) for _ in row] for row in criteria]
    return [list(zip(row, p)) for row, p in zip(criteria, probabilities)]
