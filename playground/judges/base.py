"""The one interface every judge has, the panel of judges a comparison runs, and their registry.

A judge reads a result frame and its images and returns the frame with its declared columns
(playground/schema.py, declared under the judge's id as the step):

    judge(frame, images, context) -> frame

`context` carries what a judge may need besides the images: the curated content, whether the
run is offline (the stand-ins then score), the device, and readings of the same images that
another judge already took (each CLIP's image embeddings are computed once per image, through
the score cache). A `Judges` panel holds the person's choices (which CLIPs, which checklist judge)
and the judges built from them: every entry of prompt_library/judges.yaml, in order, plus any
judge registered with `register` (a plugin, or a test). Adding a judge is one module with a
`build(judges)` function plus one registry entry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import pandas as pd
from PIL import Image

from .. import schema
from ..catalog.curated import Curated
from ..catalog.judges import load_judge_cards
from ..config import get_settings
from ..errors import PlaygroundError
from .score_cache import cached_readings, digest

if TYPE_CHECKING:
    import torch

    from ..models.clip_model import ClipScorer

AUTO = "auto"  # the domain CLIP: route each image by its modality (scorers.yaml)
CHECKLISTS = ("vlm_score", "criteria_score")  # what "the checklist score" is: the judge's, else CLIP's


class Judge(Protocol):
    """A judge: its id (the schema step of its columns) and how it scores."""

    id: str

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame: ...


Build = Callable[["Judges"], "Judge | None"]
_registered: dict[str, Build] = {}


def register(judge_id: str, build: Build, *columns: schema.ResultColumn) -> None:
    """Add a judge to every panel built afterwards, with its columns (declared under step
    `judge_id`): a judge defined outside the package, e.g. in a plugin or a test."""
    if any(c.step != judge_id for c in columns):
        raise PlaygroundError(f"The columns of judge {judge_id!r} must be declared under step {judge_id!r}.")
    schema.declare(*columns)
    _registered[judge_id] = build


def unregister(judge_id: str) -> None:
    """Remove a registered judge and the columns declared under its id."""
    _registered.pop(judge_id, None)
    schema.forget(judge_id)


def builders() -> dict[str, Build]:
    """Every judge's build function, by id: judges.yaml's entries in order, then registered ones."""
    found: dict[str, Build] = {}
    for card in load_judge_cards().cards.values():
        module, _, function = card.build.partition(":")
        found[card.id] = getattr(importlib.import_module(module), function)
    return {**found, **_registered}


@dataclass(frozen=True)
class Judges:
    """The panel that scores a comparison: what the person chose, and the judges built from it
    (`judges`, in the registry's order; a judge not chosen is absent).

    `scorer_id` is the general CLIP (the criteria and the probe read its embeddings too); each
    other judge is off when None (or False). `domain_scorer_id`: AUTO routes each image to the
    domain CLIP of its modality (scorers.yaml), an id pins one. `vlm_id`: the checklist judge, a
    vision-language model answering each criterion's question. `best_by`: what best of N ranks
    by (default: the checklist score).
    """

    scorer_id: str
    medical_scorer_id: str | None = None
    domain_scorer_id: str | None = AUTO
    vlm_id: str | None = None
    finding: bool = True  # the chest x-ray proxy classifier, on x-ray images whose prompt names a finding
    best_by: str | None = None

    @cached_property
    def judges(self) -> tuple[Judge, ...]:
        return tuple(judge for build in builders().values() if (judge := build(self)) is not None)

    @property
    def checklist(self) -> str:
        """The column refinement and prompt search raise: the checklist judge's mean P(yes) when
        one is chosen, else CLIP's criteria score."""
        return CHECKLISTS[0] if self.vlm_id else CHECKLISTS[1]

    @property
    def key(self) -> str:
        """The panel's identity (every choice), under which its time per image is measured."""
        return "|".join(str(v) for v in (self.scorer_id, self.medical_scorer_id, self.domain_scorer_id, self.vlm_id,
                                         self.finding))

    @classmethod
    def of(cls, judges: Judges | str) -> Judges:
        """`judges` itself, or a general CLIP's id alone (every other judge at its default)."""
        return judges if isinstance(judges, Judges) else cls(judges)


class Context:
    """What judges share while they score: curated content, offline state, device, and each
    CLIP's embeddings of the images (computed once, read through the score cache)."""

    def __init__(self, curated: Curated, offline: bool | None = None, device: str | None = None) -> None:
        self.curated = curated
        self.offline = get_settings().offline if offline is None else offline
        self.device = device
        self._embeddings: dict[tuple[str, str], torch.Tensor] = {}

    def scorer(self, scorer_id: str) -> ClipScorer:
        from ..models.loading import load_scorer

        return load_scorer(scorer_id, self.device)

    def embeddings(self, scorer_id: str, images: Sequence[Image.Image]) -> torch.Tensor:
        """`scorer_id`'s L2-normalised embeddings of `images`, shape (len(images), dim)."""
        import numpy as np
        import torch

        keys = [(scorer_id, digest(image)) for image in images]
        missing = [i for i, key in enumerate(keys) if key not in self._embeddings]
        if missing:
            scorer = self.scorer(scorer_id)
            found = cached_readings(f"clip:{scorer_id}", [images[i] for i in missing],
                                    lambda at: scorer.embed_images([images[missing[i]] for i in at]))
            self._embeddings.update({keys[i]: torch.from_numpy(np.asarray(v)) for i, v in zip(missing, found)})
        return torch.stack([self._embeddings[key] for key in keys]) if keys else torch.empty(0, 0)


def run(judges: Judges, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
    """`frame` with every judge's columns; an output that is not a real image keeps them blank.
    A judge that writes a column it did not declare is refused, so no judge overwrites another's."""
    for judge in judges.judges:
        before = set(frame.columns)
        frame = judge(frame, images, context)
        stray = sorted(set(frame.columns) - before - set(schema.of_step(judge.id)))
        if stray:
            raise PlaygroundError(f"Judge {judge.id!r} wrote columns it does not declare: {', '.join(stray)}.")
    not_images = frame["image_problem"] != ""
    for column in schema.judged(frame) if not_images.any() else []:
        frame.loc[not_images, column.name] = column.blank
    return frame
