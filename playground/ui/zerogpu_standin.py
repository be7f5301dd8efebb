"""A stand-in for ZeroGPU's boundary (PLAYGROUND_ZEROGPU=standin, on for the test suite).

It does what `spaces.GPU` does at its boundary: one forked worker, reused while idle; arguments
pickled in the caller (a PicklingError is raised there) and each yielded value pickled back; a
stop event ends the running generator; only `gr.Error` keeps its message across.

Two things keep a caller from waiting forever on a worker that cannot answer:
- A fork happens only when no other thread is halfway through an import. A fork copies a held
  module lock with no thread left to release it, so the child's first import of that module
  would wait forever; the server's threads import lazily (PIL's plugins, diffusers' modules), so
  a worker forked during a page's first requests could hang.
- The caller watches the worker: one that dies, or sends nothing for PLAYGROUND_STANDIN_SILENCE_S
  seconds (300; every denoising step sends progress), is ended, and the caller gets a sentence.
"""

from __future__ import annotations

import functools
import importlib._bootstrap
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from .gpu_task import End, Failed, task

QUIET_WAIT_S = 10.0  # how long a fork waits for other threads' imports to finish

_FORK = multiprocessing.get_context("fork")


def importing_elsewhere() -> bool:
    """Whether another thread holds a module's import lock (is halfway through an import)."""
    me = threading.get_ident()
    for ref in list(getattr(importlib._bootstrap, "_module_locks", {}).values()):
        owner = getattr(ref(), "owner", None)
        if owner is not None and owner != me:
            return True
    return False


def _wait_for_imports() -> None:
    """Run just before every fork of this process (os.register_at_fork): the fork then happens
    with no module lock held elsewhere (see the module docstring)."""
    deadline = time.monotonic() + QUIET_WAIT_S
    while importing_elsewhere() and time.monotonic() < deadline:
        time.sleep(0.002)


@functools.cache
def _guard_forks() -> None:
    """Register `_wait_for_imports` once, when the first worker is forked."""
    os.register_at_fork(before=_wait_for_imports)


class _Worker:
    """A forked process running tasks one at a time, as spaces' Worker does: arguments come in
    pickled, each yielded value goes back pickled, a stop event ends the running generator."""

    def __init__(self) -> None:
        _guard_forks()
        self.arguments_in, self.arguments = _FORK.Pipe(duplex=False)
        self.results, self.results_out = _FORK.Pipe(duplex=False)
        self.stop = _FORK.Event()
        self.environment = dict(os.environ)
        self.idle = threading.Event()
        self.idle.set()
        self.process = _FORK.Process(target=self._serve, daemon=True, name="zerogpu-standin")
        self.process.start()
        self.arguments_in.close()  # the worker's ends: a worker that exits closes the results pipe
        self.results_out.close()

    def usable(self) -> bool:
        return self.process.is_alive() and self.idle.is_set() and dict(os.environ) == self.environment

    def _serve(self) -> None:
        _close_inherited({self.arguments_in.fileno(), self.results_out.fileno()})
        while True:
            fn, args, kwargs, previews = self.arguments_in.recv()
            self.stop.clear()
            generator = task(fn, args, kwargs, previews)
            try:
                for value in generator:
                    if self.stop.is_set():
                        generator.close()
                        break
                    self._send(value)
            except gr.Error as exc:
                self._send(Failed(exc))
            except Exception as exc:
                self._send(Failed(gr.Error(f"ZeroGPU worker error: {type(exc).__name__}")))
            self.results_out.send(End())

    def _send(self, value: Any) -> None:
        try:
            self.results_out.send(value)
        except Exception as exc:
            self.results_out.send(Failed(gr.Error(f"ZeroGPU worker error: {type(exc).__name__}: {exc}")))

    def receive(self) -> Any:
        """The worker's next value; a dead or silent worker is ended and raises a sentence."""
        silence = float(os.environ.get("PLAYGROUND_STANDIN_SILENCE_S", "300"))
        if self.results.poll(silence):
            try:
                return self.results.recv()
            except EOFError:  # the worker's end closed: it exited
                self.process.join()
                why = f"stopped unexpectedly (exit code {self.process.exitcode})"
        else:
            self.process.kill()
            self.process.join()
            why = f"sent nothing for {silence:g} seconds and was stopped"
        self.idle.set()  # dead: the next request forks a new one
        raise gr.Error(f"The GPU worker {why}; the next request starts a new one.")

    def drain(self) -> None:
        """Read what a stopped task still sends, until its end; then the worker is idle again."""
        try:
            while not isinstance(self.receive(), End):
                pass
        except gr.Error:
            pass
        self.idle.set()


def _close_inherited(keep: set[int]) -> None:
    """Let go of the pipes and sockets the fork inherited, but the worker's own pipes, as spaces
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


def standin(fn: Callable, args: tuple, kwargs: dict, _seconds: float, previews: bool) -> Iterator[Any]:
    """`task(fn, args, kwargs, previews)` in the worker; its values, unpickled here."""
    worker = _worker()
    try:
        worker.arguments.send((fn, args, kwargs, previews))  # pickles here, in the caller: a PicklingError is raised now
    except Exception:
        worker.idle.set()
        raise
    finished = False
    try:
        while not isinstance(value := worker.receive(), End):
            if isinstance(value, Failed):
                raise value.error
            yield value
        finished = True
    finally:
        if finished or not worker.process.is_alive():
            worker.idle.set()
        else:
            worker.stop.set()
            threading.Thread(target=worker.drain, daemon=True).start()
