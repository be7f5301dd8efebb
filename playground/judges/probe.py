"""The confusion probe: what CLIP "sees" in an image, among the intended subject, the subject's
known confusers (prompt_library/confusions.yaml) and the eight image styles of the study."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from PIL import Image

from ..catalog.curated import Curated
from .base import Context, Judges

TOP = 3


def probe_labels(subject: str, curated: Curated) -> list[str]:
    """Labels the probe ranks for `subject`, without repeats."""
    return list(dict.fromkeys([subject.strip(), *curated.confusers_of(subject), *(s.label for s in curated.styles)]))


@dataclass(frozen=True)
class ProbeJudge:
    """`probe_top3`: for each image, CLIP's top labels as records of label and p (probability)."""

    scorer_id: str
    id: str = "probe"

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
        embeddings = context.embeddings(self.scorer_id, images)
        scorer, seen = context.scorer(self.scorer_id), []
        for i, subject in enumerate(frame["subject"]):
            labels = probe_labels(subject, context.curated)
            values, indices = scorer.zero_shot(embeddings[i : i + 1], labels)[0].topk(min(TOP, len(labels)))
            seen.append([{"label": labels[j], "p": v} for v, j in zip(values.tolist(), indices.tolist())])
        return frame.assign(probe_top3=seen)


def build(judges: Judges) -> ProbeJudge:
    return ProbeJudge(judges.scorer_id)


def top_label(seen: list[dict] | None) -> str:
    """The label the probe ranks first ('' when the image was not probed)."""
    return seen[0]["label"] if seen else ""
