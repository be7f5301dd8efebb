"""GPU work, run the way ZeroGPU runs it: across a process boundary, with progress as values.

Every task that needs the GPU goes through `run(fn, *args, seconds=..., **kwargs)`, one function
for the whole app, so on ZeroGPU one worker process holds every loaded model and a second
request reuses them. `fn` is a workflow function that takes `progress=` (a callback); it runs in
a thread on the device side, and what crosses back is plain values: a `Progress` while it works,
then each value it yields (or the one it returns). Nothing unpicklable crosses: `spaces.GPU`
forks a worker and pickles the arguments and every value yielded.

- On a Space with ZeroGPU (`spaces` installed and active), `run` is `spaces.GPU(duration=seconds)`.
- With PLAYGROUND_ZEROGPU=standin (the test suite), a stand-in does what `spaces.GPU` does at its
  boundary: one forked worker, reused while idle; arguments and each yielded value pickled; a
  PicklingError raised in the caller; Stop stops the worker's generator; only `gr.Error` keeps
  its message across.
- Elsewhere `fn` runs in a thread of this process.

A Stop reaches the task cooperatively: `stop(request)` marks the session, `each` sees the mark at
the next event (every denoising step sends one) and closes the iterator; the next progress
callback raises in the task, which ends the denoising call mid-batch, and nothing more is drawn.
The handler then returns normally, so what is on screen stays and no "Error" replaces it (a
Gradio `cancels=` would drop the event's stream).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
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


class Stopped(Exception):
    """Raised inside the task when its caller stopped listening (a Stop)."""


@dataclass(frozen=True)
class _End:
    pass


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def task(fn: Callable, args: tuple, kwargs: dict) -> Iterator[Any]:
    """The device side: `fn(*args, progress=..., **kwargs)` in a thread; yields Progress events
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
            events.put(_Failed(shown_error(exc)))
        except Exception as exc:
            events.put(_Failed(gr.Error(unexpected(exc))))
        finally:
            events.put(_End())

    thread = threading.Thread(target=work, name="gpu-task", daemon=True)
    thread.start()
    try:
        while not isinstance(event := events.get(), _End):
            if isinstance(event, _Failed):
                raise event.error
            yield event
    finally:
        stop.set()


def run(fn: Callable, *args: Any, seconds: float, **kwargs: Any) -> Iterator[Any]:
    """`fn`'s progress and values, from wherever GPU work runs here (see the module docstring)."""
    return _runner()(fn, args, kwargs, seconds)


_stops: set[str] = set()  # sessions whose Stop was pressed while their task runs


def stop(request: gr.Request) -> None:
    """The Stop button: the session's running task ends at its next step (see the module docstring)."""
    if request.session_hash:
        _stops.add(request.session_hash)


def each(fn: Callable, *args: Any, seconds: float, progress: gr.Progress | None = None,
         request: gr.Request | None = None, **kwargs: Any) -> Iterator[Any]:
    """`run`, with its Progress events drawn on a Gradio progress bar: yields `fn`'s values only.
    With `request`, a Stop pressed in its session from now on ends the task (a stale one is forgotten)."""
    session = request.session_hash if request is not None else None
    _stops.discard(session)
    with closing(run(fn, *args, seconds=seconds, **kwargs)) as events:
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
    mode = os.environ.get("PLAYGROUND_ZEROGPU", "").strip().lower()
    if mode == "standin":
        return _standin
    if mode != "off":
        try:
            return _zerogpu()
        except ImportError:  # not on a Space
            pass
    return _in_process


def _in_process(fn: Callable, args: tuple, kwargs: dict, _seconds: float) -> Iterator[Any]:
    yield from task(fn, args, kwargs)


_decorated: list[Callable] = []


def _zerogpu() -> Callable:
    """`_in_process` wrapped by spaces.GPU, once: one decorated function, so one worker serves
    every request. Off ZeroGPU, spaces.GPU returns it unchanged."""
    if not _decorated:
        import spaces

        _decorated.append(spaces.GPU(duration=lambda fn, args, kwargs, seconds: seconds)(_in_process))
    return _decorated[0]


# --- the stand-in (PLAYGROUND_ZEROGPU=standin) -------------------------------------------------

_FORK = multiprocessing.get_context("fork")


class _Worker:
    """A forked process running tasks one at a time, as spaces' Worker does: arguments come in
    pickled, each yielded value goes back pickled, a stop event ends the running generator."""

    def __init__(self) -> None:
        self.arguments, self.results = _FORK.SimpleQueue(), _FORK.SimpleQueue()
        self.stop = _FORK.Event()
        self.environment = dict(os.environ)
        self.idle = threading.Event()
        self.idle.set()
        self.process = _FORK.Process(target=self._serve, daemon=True, name="zerogpu-standin")
        self.process.start()

    def usable(self) -> bool:
        return self.process.is_alive() and self.idle.is_set() and dict(os.environ) == self.environment

    def _serve(self) -> None:
        _close_inherited({self.arguments._reader.fileno(), self.results._writer.fileno()})
        while True:
            fn, args, kwargs = self.arguments.get()
            self.stop.clear()
            generator = task(fn, args, kwargs)
            try:
                for value in generator:
                    if self.stop.is_set():
                        generator.close()
                        break
                    self._send(value)
            except gr.Error as exc:
                self._send(_Failed(exc))
            except Exception as exc:
                self._send(_Failed(gr.Error(f"ZeroGPU worker error: {type(exc).__name__}")))
            self.results.put(_End())

    def _send(self, value: Any) -> None:
        try:
            self.results.put(value)
        except Exception as exc:
            self.results.put(_Failed(gr.Error(f"ZeroGPU worker error: {type(exc).__name__}: {exc}")))

    def drain(self) -> None:
        """Read what a stopped task still sends, until its end; then the worker is idle again."""
        while not isinstance(self.results.get(), _End):
            pass
        self.idle.set()


def _close_inherited(keep: set[int]) -> None:
    """Let go of the pipes and sockets the fork inherited, but the worker's own queues, as spaces
    closes the server's sockets: a process at the other end (a client, a browser driver) waits for
    them. Each is replaced by /dev/null, so the Python objects that still own its number close it
    quietly."""
    import stat

    null = os.open(os.devnull, os.O_RDWR)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2 or fd in keep or fd == null:
            continue
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            os.dup2(null, fd)
    os.close(null)


_workers: list[_Worker] = []
_workers_lock = threading.Lock()


def _worker() -> _Worker:
    with _workers_lock:
        for worker in [w for w in _workers if not w.usable() and w.idle.is_set()]:
            worker.process.terminate()
            _workers.remove(worker)
        worker = next((w for w in _workers if w.usable()), None) or _Worker()
        if worker not in _workers:
            _workers.append(worker)
        worker.idle.clear()
        return worker


def _standin(fn: Callable, args: tuple, kwargs: dict, _seconds: float) -> Iterator[Any]:
    worker = _worker()
    try:
        worker.arguments.put((fn, args, kwargs))  # pickles here, in the caller: a PicklingError is raised now
    except Exception:
        worker.idle.set()
        raise
    finished = False
    try:
        while not isinstance(value := worker.results.get(), _End):
            if isinstance(value, _Failed):
                raise value.error
            yield value
        finished = True
    finally:
        if finished:
            worker.idle.set()
        else:
            worker.stop.set()
            threading.Thread(target=worker.drain, daemon=True).start()
