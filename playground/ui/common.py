"""Small pieces every tab shares: error translation, the optional ZeroGPU decorator, safe text."""

from __future__ import annotations

import contextlib
import functools
import html
import inspect
from urllib.parse import quote
from collections.abc import Callable, Iterator
from typing import TypeVar

import gradio as gr

from ..errors import PlaygroundError, unexpected

F = TypeVar("F", bound=Callable)


def user_errors(fn: F) -> F:
    """Show our plain-sentence errors (PlaygroundError) as gr.Error, unchanged; anything else as
    "Something went wrong (logged as <id>)", its traceback in the server log under that id.
    A generator handler (one that streams) stays a generator."""

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def streaming(*args, **kwargs):
            with _as_gradio_errors():
                yield from fn(*args, **kwargs)

        return streaming  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _as_gradio_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def _as_gradio_errors() -> Iterator[None]:
    try:
        yield
    except (gr.Error, GeneratorExit):
        raise
    except PlaygroundError as exc:
        raise gr.Error(str(exc)) from exc
    except Exception as exc:
        raise gr.Error(unexpected(exc)) from exc


def on_gpu(duration: Callable[..., float]) -> Callable[[F], F]:
    """Run the decorated function under ZeroGPU's `spaces.GPU` when the `spaces` package exists
    (on a Space), asking for `duration(*args)` seconds: computed from the request, so a small
    grid does not queue behind a large reservation and a large one is not cut off."""

    def decorate(fn: F) -> F:
        try:
            import spaces
        except ImportError:
            return fn
        return spaces.GPU(duration=duration)(fn)

    return decorate


def text(value: object) -> str:
    """User text made safe to put inside Markdown: no HTML survives."""
    return html.escape(str(value), quote=False)


def file_url(path: object) -> str:
    """The URL Gradio serves a file of the outputs folder at (relative, so it works under a Space's prefix)."""
    return "gradio_api/file=" + quote(str(path))
