"""GPU work, run the way ZeroGPU runs it: across a process boundary, with progress as values.

Every task that needs the GPU goes through `run(fn, *args, seconds=..., **kwargs)`, one function
for the whole app, so on ZeroGPU one worker process holds every loaded model and a second
request reuses them. `fn` is a workflow function that takes `progress=` (a callback); it runs in
a thread on the device side, and what crosses back is plain values: a `Progress` while it works,
then each value it yields (or the one it returns). Nothing unpicklable crosses: `spaces.GPU`
forks a worker and pickles the arguments and every value yielded.

- On a Space with ZeroGPU (`spaces` installed and active), `run` is `spaces.GPU(duration=seconds)`.
- With PLAYGROUND_ZEROGPU=standin (the test suite), ui/zerogpu_standin.py does what `spaces.GPU`
  does at its boundary (a forked worker, pickled values, only `gr.Error` keeps its message).
- Elsewhere `fn` runs in a thread of this process.

A Stop reaches the task cooperatively: `stop(request)` marks the session, `each` sees the mark at
the next event (every denoising step sends one) and closes the iterator; the next progress
callback raises in the task, which ends the denoising call mid-batch, and nothing more is drawn.
The handler then returns normally, so what is on screen stays and no "Error" replaces it (a
Gradio `cancels=` would drop the event's stream).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import gradio as gr

from ..workflow import budget
from .gpu_task import Previews, Progress, task
from .zerogpu_standin import standin

__all__ = ["Previews", "Progress", "each", "on_zerogpu", "report", "run", "stop"]


def run(fn: Callable, *args: Any, seconds: float, previews: bool = False, **kwargs: Any) -> Iterator[Any]:
    """`fn`'s progress and values (with `previews`, its live previews too: drawn only when asked
    for), from wherever GPU work runs here (see the module docstring); on ZeroGPU, a call longer
    than it grants is refused in a sentence before it starts."""
    if on_zerogpu():
        budget.check_duration(seconds)
    return _runner()(fn, args, kwargs, seconds, previews)


def on_zerogpu() -> bool:
    """Whether GPU work asks ZeroGPU for its seconds: on a ZeroGPU Space (SPACES_ZERO_GPU, which
    the `spaces` package reads), or through the stand-in that does what it does."""
    mode = _mode()
    return mode == "standin" or (mode != "off" and os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true"))


def _mode() -> str:
    return os.environ.get("PLAYGROUND_ZEROGPU", "").strip().lower()


_stops: set[str] = set()  # sessions whose Stop was pressed while their task runs


def stop(request: gr.Request) -> None:
    """The Stop button: the session's running task ends at its next step (see the module docstring)."""
    if request.session_hash:
        _stops.add(request.session_hash)


def each(fn: Callable, *args: Any, seconds: float, progress: gr.Progress | None = None,
         request: gr.Request | None = None, previews: bool = False, **kwargs: Any) -> Iterator[Any]:
    """`run`, with its Progress events drawn on a Gradio progress bar: yields `fn`'s values (and,
    with `previews`, its `Previews` of the images forming). With `request`, a Stop pressed in its
    session from now on ends the task (a stale one is forgotten)."""
    session = request.session_hash if request is not None else None
    _stops.discard(session)
    with closing(run(fn, *args, seconds=seconds, previews=previews, **kwargs)) as events:
        for event in events:
            if session in _stops:
                _stops.discard(session)
                return
            if isinstance(event, Progress):
                if progress is not None:
                    report(progress, event)
                continue
            yield event


def report(progress: gr.Progress, event: Progress) -> None:
    """The one progress bar: image-steps while denoising (described as images done and the time
    left), gigabytes while a model downloads."""
    if event.what and event.what.startswith("Downloading"):
        progress(event.done / max(event.total, 1),
                 desc=f"{event.what}: {event.done / 1e9:.2f} of {event.total / 1e9:.2f} GB")
    else:
        progress((int(event.done), int(event.total)), desc=event.what or "Denoising", unit="image-steps")


def _runner() -> Callable[[Callable, tuple, dict, float], Iterator[Any]]:
    mode = _mode()
    if mode == "standin":
        return standin
    if mode != "off":
        try:
            return _zerogpu()
        except ImportError:  # not on a Space
            pass
    return _in_process


def _in_process(fn: Callable, args: tuple, kwargs: dict, _seconds: float, previews: bool) -> Iterator[Any]:
    yield from task(fn, args, kwargs, previews)


_decorated: list[Callable] = []


def _zerogpu() -> Callable:
    """`_in_process` wrapped by spaces.GPU, once: one decorated function, so one worker serves
    every request. Off ZeroGPU, spaces.GPU returns it unchanged."""
    if not _decorated:
        import spaces

        _decorated.append(spaces.GPU(duration=lambda fn, args, kwargs, seconds, previews: seconds)(_in_process))
    return _decorated[0]
