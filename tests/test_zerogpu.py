"""GPU work across ZeroGPU's boundary: the stand-in (PLAYGROUND_ZEROGPU=standin, on for the whole
suite) forks one worker as spaces.GPU does, pickles the arguments and every value sent back, and
keeps the worker (and the models it loaded) for the next request."""

from __future__ import annotations

import importlib
import os
import pickle
import sys
import threading
import time
import traceback
import types

import gradio as gr
import pytest

from playground import GuidanceSetting, PlaygroundError
from playground.catalog.curated import load_curated
from playground.comparison import Comparison
from playground.judges.base import Context, Judges
from playground.models.loading import pipelines_built
from playground.types import Column
from playground.ui import gpu
from playground.ui.zerogpu_standin import importing_elsewhere
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


def exits(progress=None):
    os._exit(3)


def waits_forever(progress=None):
    threading.Event().wait()


def test_a_worker_that_dies_or_falls_silent_is_a_sentence_and_the_next_request_gets_a_new_one(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_TEST_WORKER", "dies")  # a worker of its own
    with pytest.raises(gr.Error, match=r"The GPU worker stopped unexpectedly \(exit code 3\)"):
        list(gpu.run(exits, seconds=10))
    monkeypatch.setenv("PLAYGROUND_STANDIN_SILENCE_S", "1")
    with pytest.raises(gr.Error, match="The GPU worker sent nothing for 1 seconds and was stopped"):
        list(gpu.run(waits_forever, seconds=10))
    assert gpu.run(where, seconds=10).__next__() == gpu.Progress(1, 2, "half way")  # a new worker answers


def imports_the_gated_module(progress=None) -> str:
    import gated_module

    return gated_module.VALUE


def test_a_worker_is_forked_only_once_no_other_thread_is_halfway_through_an_import(tmp_path, monkeypatch):
    """A fork during another thread's import would copy that module's lock, held for good: the
    worker's own import of the module would never return (the server's threads import lazily)."""
    gate = types.SimpleNamespace(entered=threading.Event(), release=threading.Event())
    monkeypatch.setitem(sys.modules, "import_gate", gate)
    (tmp_path / "gated_module.py").write_text(
        "import import_gate\nimport_gate.entered.set()\nimport_gate.release.wait()\nVALUE = 'imported'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PLAYGROUND_TEST_WORKER", "gated")  # a worker forked now, not one forked earlier
    importer = threading.Thread(target=importlib.import_module, args=("gated_module",))
    importer.start()
    gate.entered.wait()
    assert importing_elsewhere()
    results: list = []
    caller = threading.Thread(target=lambda: results.extend(gpu.each(imports_the_gated_module, seconds=30)))
    caller.start()
    for _ in range(20_000):  # until the caller's fork waits for the import (a few seconds at most)
        frame = sys._current_frames().get(caller.ident)
        if frame is None or any(f.f_code.co_name == "_wait_for_imports" for f, _ in traceback.walk_stack(frame)):
            break
        time.sleep(0.001)
    gate.release.set()
    importer.join()
    caller.join()
    assert results == ["imported"] and not importing_elsewhere()
    monkeypatch.delitem(sys.modules, "gated_module")
