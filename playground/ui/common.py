"""What every tab shares: our sentences shown as Gradio errors, anything else logged under an id."""

from __future__ import annotations

import contextlib
import functools
import html
import inspect
from collections.abc import Callable, Iterator
from typing import TypeVar

import gradio as gr

from .. import limits
from ..errors import PlaygroundError, unexpected
from ..stores.votes import Voter, window_hours

F = TypeVar("F", bound=Callable)


def user_errors(fn: F) -> F:
    """Show our plain-sentence errors (PlaygroundError) as gr.Error, HTML-escaped (the toast
    renders HTML, and a sentence may quote a visitor's value); anything else as
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


def shown_error(exc: PlaygroundError) -> gr.Error:
    """Our sentence as the error a person sees: Gradio renders its message as HTML, and the
    sentence may quote a visitor's value (`<img src=...>` from a dropped PNG), so it is escaped."""
    return gr.Error(html.escape(str(exc), quote=False))


@contextlib.contextmanager
def _as_gradio_errors() -> Iterator[None]:
    try:
        yield
    except (gr.Error, GeneratorExit):
        raise
    except PlaygroundError as exc:
        raise shown_error(exc) from exc
    except Exception as exc:
        raise gr.Error(unexpected(exc)) from exc


def voter_of(request: gr.Request | None) -> Voter:
    """The visitor casting a vote, as the votes store tells visitors apart: the page's session and
    the client's address (behind a proxy, the address uvicorn reports)."""
    client = getattr(request, "client", None)
    return Voter(session=getattr(request, "session_hash", None) or "", address=getattr(client, "host", None) or "")


def image_position(count: int, number: object) -> int:
    """The frame position of image `number` of a grid of `count`, counted from 1 as the grid, the
    table, the file names and the API count them (0 is "none selected": refused with a sentence)."""
    if number is None or number == 0:
        raise PlaygroundError("Select an image first: click one in the grid (its number shows under it).")
    return limits.whole_number(number, "The image number", 1, max(count, 1)) - 1


def styled(css: str, elem_id: str) -> gr.HTML:
    """A box whose `css` reaches the components laid out inside it (`with styled(...):`): Gradio
    scopes an HTML component's css_template to that component, and the app has no stylesheet."""
    # The box's own padding (the theme's block padding) is undone, so what is inside lines up with what is not.
    css = "margin: calc(-1 * var(--spacing-xl)) calc(-1 * var(--spacing-xl) - 2px); " + css
    return gr.HTML(html_template="@children", css_template=css, padding=False, elem_id=elem_id)


def counted_already(record_id: int, votes: int) -> str:
    """Why a visitor's second vote for a record did not count."""
    return (f"Your vote for record #{record_id} was counted already (votes: {votes}): one visitor counts once per "
            f"record in {window_hours():g} hours.")


def vote_said(logged, lineage: str = "") -> str:
    """What a Prefer did (a `stores.library.Logged`): a new record, one more vote, or a vote this
    visitor had cast already; `lineage` follows the record's number."""
    if not logged.counted:
        return counted_already(logged.id, logged.votes)
    verb = "Saved to the library as record" if logged.created else "Already in the library: one more vote for record"
    return f"{verb} #{logged.id}{lineage} (votes: {logged.votes})."
