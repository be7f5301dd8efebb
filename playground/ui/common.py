"""Small pieces every tab shares: error translation and the optional ZeroGPU decorator."""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from typing import TypeVar

import gradio as gr

from ..models import HubUnreachableError

F = TypeVar("F", bound=Callable)


def user_errors(fn: F) -> F:
    """Turn the engine's plain-sentence errors into gr.Error, unchanged, so the user reads them."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, HubUnreachableError) as exc:
            raise gr.Error(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def on_gpu(fn: F) -> F:
    """Run `fn` under ZeroGPU's `spaces.GPU` when the `spaces` package exists (on a Space)."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(duration=180)(fn)


def text(value: object) -> str:
    """User text made safe to put inside Markdown: no HTML survives."""
    return html.escape(str(value), quote=False)
