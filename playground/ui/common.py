"""Small pieces every tab shares: error translation, the optional ZeroGPU decorator, safe text."""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from typing import TypeVar

import gradio as gr

from ..errors import PlaygroundError, unexpected

F = TypeVar("F", bound=Callable)


def user_errors(fn: F) -> F:
    """Show our plain-sentence errors (PlaygroundError) as gr.Error, unchanged; anything else as
    "Something went wrong (logged as <id>)", its traceback in the server log under that id."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except PlaygroundError as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:
            raise gr.Error(unexpected(exc)) from exc

    return wrapper  # type: ignore[return-value]


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
