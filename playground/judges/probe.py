"""The confusion probe: what CLIP "sees" in an image, among the intended subject, the subject's
known confusers (prompt_library/confusions.yaml) and the eight image styles of the study."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..curated import Curated
from ..engine.clip_model import ClipScorer


def probe_labels(subject: str, curated: Curated) -> list[str]:
    """Labels the probe ranks for `subject`, without repeats."""
    return list(dict.fromkeys([subject.strip(), *curated.confusers_of(subject), *(s.label for s in curated.styles)]))


def probe(image_embeddings: torch.Tensor, subjects: Sequence[str], scorer: ClipScorer, curated: Curated,
          top: int = 3) -> list[str]:
    """For each image, "label 71%, label 12%, label 9%": CLIP's top labels with probabilities."""
    seen = []
    for i, subject in enumerate(subjects):
        labels = probe_labels(subject, curated)
        probabilities = scorer.zero_shot(image_embeddings[i : i + 1], labels)[0]
        values, indices = probabilities.topk(min(top, len(labels)))
        seen.append(", ".join(f"{labels[j]} {v:.0%}" for v, j in zip(values.tolist(), indices.tolist())))
    return seen
