"""What every tab shares: our sentences shown as Gradio errors, anything else logged under an id."""

from __future__ import annotations

import contextlib
import functools
import inspect
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



