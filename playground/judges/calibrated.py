"""Calibrated P(yes) beside the raw one: each checklist judge's answer mapped through the latest
calibration stored for that judge, model and criterion (judges/calibration_store.py; fitted on a
study's expert checklist answers by `playground stats calibrate RUN`).

It runs after the checklist judges (judges.yaml's order) and reads their records, so it declares
one column of its own (`checklist_calibrated`) rather than writing into theirs: a record per
criterion that has a calibration, so a raw P(yes) of 0.8 that experts confirmed only half the
time reads 0.5 beside it; an image none of whose criteria has one gets an empty list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image

from . import calibration_store
from .base import Context, Judges


@dataclass(frozen=True)
class Source:
    """A checklist judge whose P(yes) can be calibrated: its id (the schema step of its columns),
    its column of per-criterion records, the record field holding P(yes), and the column naming
    the model that answered."""

    judge: str
    column: str
    p: str
    model: str


SOURCES = (Source("vlm", "vlm_checklist", "p_yes", "vlm_id"), Source("criteria", "criteria", "p", "clip_scorer"))


def answered(row: Mapping, source: Source) -> list[tuple[str, float]]:
    """(criterion id, P(yes)) of every criterion `source` answered on this image, gated ones
    included (the question was still answered); [] where the judge did not run or the image has
    no criteria."""
    records = row.get(source.column)
    if not isinstance(records, (list, tuple, np.ndarray)):
        return []
    return [(str(r["id"]), float(r[source.p])) for r in records]


def model_of(row: Mapping, source: Source) -> str:
    """The model that answered for `source` on this image ('' when not recorded)."""
    model = row.get(source.model)
    return model if isinstance(model, str) else ""


def calibrated(row: Mapping, maps: Mapping[calibration_store.Key, calibration_store.Calibration]) -> list[dict]:
    """This image's checklist_calibrated records: one per criterion a judge answered and a
    calibration is stored for."""
    return [{"judge": source.judge, "model": found.model, "id": criterion, "p": p, "p_calibrated": float(found.map(p)),
             "study": found.study, "fitted": found.fitted}
            for source in SOURCES for criterion, p in answered(row, source)
            if (found := maps.get((source.judge, model_of(row, source), criterion)))]


@dataclass(frozen=True)
class CalibratedJudge:
    """`checklist_calibrated`: per criterion a checklist judge answered and a calibration is
    stored for, the raw P(yes), the calibrated one, and the study and date it was fitted on."""

    id: str = "calibrated"

    def __call__(self, frame: pd.DataFrame, images: Sequence[Image.Image], context: Context) -> pd.DataFrame:
        maps = calibration_store.latest()
        return frame.assign(checklist_calibrated=[calibrated(row, maps) for _, row in frame.iterrows()])


def build(judges: Judges) -> CalibratedJudge:
    return CalibratedJudge()
