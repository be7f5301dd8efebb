"""The device side of GPU work: `fn` in a thread, its progress and values as plain events.

`task` is what runs where the GPU is (in spaces' worker on ZeroGPU, in the stand-in's forked
worker in tests, in a thread elsewhere); everything it yields can be pickled across a process
boundary (see ui/gpu.py).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..errors import PlaygroundError, unexpected
from .common import shown_error

MAIN_PID = os.getpid()


@dataclass(frozen=True)
class Progress:
    """How far the task is: `done` of `total` (image-steps, bytes while downloading), and what it is doing."""

    done: float
    total: float
    what: str | None = None


@dataclass(frozen=True)
class Previews:
    """Live previews of the images being denoised (engine.previews.Preview values: small images)."""

    items: tuple


class Stopped(Exception):
    """Raised inside the task when its caller stopped listening (a Stop)."""


@dataclass(frozen=True)
class End:
    """The task sent everything it had."""


@dataclass(frozen=True)
class Failed:
    """The task failed: `error` is raised in the caller."""

    error: BaseException


def task(fn: Callable, args: tuple, kwargs: dict, previews: bool = False) -> Iterator[Any]:
    """The device side: `fn(*args, progress=..., **kwargs)` in a thread; yields Progress events
    (and, with `previews`, Previews: the engine draws them only for a callback that takes them)
    and `fn`'s values. A PlaygroundError becomes a gr.Error (its sentence crosses the boundary);
    anything else is logged under an id, and its sentence crosses."""
    if os.getpid() != MAIN_PID:
        import torch

        torch.set_num_threads(1)  # OpenMP's pool does not survive a fork: more threads hang the worker
    events: queue.Queue = queue.Queue()
    stop = threading.Event()

    def progress(done: float, total: float, what: str | None = None) -> None:
        if stop.is_set():
            raise Stopped
        events.put(Progress(done, total, what))

    def preview(items: list) -> None:
        if stop.is_set():
            raise Stopped
        events.put(Previews(tuple(items)))

    if previews:
        progress.preview = preview  # a callback with `preview` gets live previews (engine/previews.py)

    def work() -> None:
        try:
            result = fn(*args, progress=progress, **kwargs)
            for value in result if isinstance(result, Iterator) else [result]:
                if stop.is_set():
                    return
                events.put(value)
        except Stopped:
            pass
        except PlaygroundError as exc:
            events.put(Failed(shown_error(exc)))
        except Exception as exc:
            events.put(Failed(gr.Error(unexpected(exc))))
        finally:
            events.put(End())

    thread = threading.Thread(target=work, name="gpu-task", daemon=True)
    thread.start()
    try:
        while not isinstance(event := events.get(), End):
            if isinstance(event, Failed):
                raise event.error
            yield event
    finally:
        stop.set()
