"""GPU work across ZeroGPU's boundary: the stand-in (PLAYGROUND_ZEROGPU=standin, on for the whole
suite) forks one worker as spaces.GPU does, pickles the arguments and every value sent back, and
keeps the worker (and the models it loaded) for the next request."""

from __future__ import annotations

import os
import pickle

import gradio as gr
import pytest

from playground import GuidanceSetting, PlaygroundError
from playground.catalog.curated import load_curated
from playground.comparison import Comparison
from playground.judges.base import Context, Judges
from playground.models.loading import pipelines_built
from playground.types import Column
from playground.ui import gpu
from playground.workflow.compare import stream_to_folder


def where(progress=None) -> int:
    progress(1, 2, "half way")
    return os.getpid()


def refuse(progress=None):
    raise PlaygroundError("The subject is empty; type a medical subject such as 'melanoma'.")


def built(progress=None) -> list[str]:
    return pipelines_built()


def crash(progress=None):
    raise KeyError("a bug")


def test_the_work_runs_in_another_process_and_its_progress_comes_back_as_values():
    events = list(gpu.run(where, seconds=10))
    assert events[0] == gpu.Progress(1, 2, "half way")
    assert isinstance(events[-1], int) and events[-1] != os.getpid()


def test_an_argument_that_cannot_be_pickled_is_refused_in_the_caller():
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        next(gpu.run(where, lambda: None, seconds=10))


def test_our_sentences_cross_the_boundary_and_anything_else_only_as_an_id():
    with pytest.raises(gr.Error, match="The subject is empty"):
        list(gpu.run(refuse, seconds=10))
    with pytest.raises(gr.Error, match=r"Something went wrong \(logged as \w+\)"):
        list(gpu.run(crash, seconds=10))


def test_a_second_request_reuses_the_models_the_worker_loaded(tmp_path):
    grid = Comparison("melanoma", [Column("A photo of melanoma")], [GuidanceSetting(4.0, 2)], images_per_cell=1,
                      model_id="tiny-offline-sdxl")
    judges = Judges("tiny-offline-clip", domain_scorer_id=None, finding=False)
    context = Context(load_curated(), offline=True)
    here = pipelines_built().count("tiny-offline-sdxl")
    counts = []
    for folder in ("first", "second"):
        *_, saved = gpu.each(stream_to_folder, grid, judges, tmp_path / folder, context=context, seconds=60)
        assert len(saved.frame) == 1 and saved.zip_path.is_file()  # a whole result came back, pickled
        (loaded,) = gpu.each(built, seconds=10)
        counts.append(loaded.count("tiny-offline-sdxl"))
    assert counts[0] >= 1 and counts[1] == counts[0]  # the second request built nothing new in the worker
    assert pipelines_built().count("tiny-offline-sdxl") == here  # built in the worker, not in this process
