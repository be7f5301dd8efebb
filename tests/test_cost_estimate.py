"""The cost said before Generate: images, denoising steps, and the seconds a grid should take here,
from what earlier requests of the same model measured (else the registry's step_seconds)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from playground import Column, Comparison, GuidanceSetting
from playground.config import get_settings
from playground.judges.base import Judges
from playground.workflow import budget
from playground.workflow.compare import stream_to_folder

JUDGES = Judges("tiny-offline-clip", vlm_id="tiny-offline-vlm")
GRID = Comparison("melanoma", [Column("A dermoscopic photo of melanoma"), Column("Melanoma, histology")],
                  [GuidanceSetting(4.0, 3), GuidanceSetting(7.0, 2)], images_per_cell=2, model_id="tiny-offline")


@pytest.fixture
def nothing_measured():
    (get_settings().home / "cache" / "throughput.json").unlink(missing_ok=True)


def test_the_estimate_counts_images_and_steps_and_falls_back_to_the_registry(nothing_measured):
    estimate = budget.estimate(GRID, JUDGES)
    assert (estimate.images, estimate.image_steps) == (8, 4 * 3 + 4 * 2)
    assert not estimate.measured and estimate.seconds > 0
    assert estimate.zerogpu_seconds == budget.compare(GRID, JUDGES)


def test_a_second_request_of_the_same_model_takes_within_a_factor_of_two_of_its_estimate(nothing_measured, tmp_path):
    first = list(stream_to_folder(GRID, JUDGES, tmp_path / "first"))[-1]
    assert len(first.frame) == 8 and first.seconds > 0
    second = replace(GRID, base_seed=100)  # new seeds: nothing is judged or drawn from a cache
    estimate = budget.estimate(second, JUDGES)
    assert estimate.measured
    took = list(stream_to_folder(second, JUDGES, tmp_path / "second"))[-1].seconds  # the app's own measure
    assert estimate.seconds / 2 <= took <= estimate.seconds * 2, (estimate, took)
