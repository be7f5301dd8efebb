"""One error type for messages meant for people, and what everything else becomes.

Our code raises `PlaygroundError` with one plain sentence that names the bad value and what is
allowed (after diffusers' `check_inputs`); the app and the command line show exactly those. Any
other exception is a bug or a fault of a library below us: the person sees a short sentence with
an id, and the traceback goes to the log under that id, so a ValueError from pandas or torch is
never presented as if it were advice.
"""

from __future__ import annotations

import logging
import uuid

logger = logging.getLogger("playground")


class PlaygroundError(ValueError):
    """A problem the person can fix, said in one sentence (a ValueError, like llm's ModelError)."""


class HubUnreachableError(PlaygroundError):
    """The Hugging Face Hub could not be reached in time; the message says how to run offline."""


def unexpected(exc: BaseException) -> str:
    """Log `exc` with its traceback under a fresh id; return the sentence a person is shown."""
    error_id = uuid.uuid4().hex[:8]
    logger.error("Unexpected error %s", error_id, exc_info=(type(exc), exc, exc.__traceback__))
    return f"Something went wrong (logged as {error_id})."
