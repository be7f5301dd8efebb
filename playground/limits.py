"""Checks for every value that comes from outside: numbers in range, text within its length.

A visitor, an API script or an imported file can send anything: infinity, 1e300, a 3 MB string,
a list where a number belongs. Each check here either returns the value in the type the code
needs or raises PlaygroundError with a sentence naming the value and what is allowed, so nothing
from outside reaches torch, SQLite or a JSON column unchecked.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

from .config import get_settings
from .errors import PlaygroundError

SQLITE_MAX_INT = 2**63 - 1
MAX_IMAGE_PIXELS = 8192 * 8192  # an uploaded image's width x height, read from its header before its pixels
PARAMETERS_PER_PROMPT = 16  # a PNG's parameters text, in prompt limits (see `parameters_chars`)


def _is_number(value: object) -> bool:
    """A real, finite number; bools are not numbers here, and ints of any size are finite."""
    if not isinstance(value, Real) or isinstance(value, bool):
        return False
    return isinstance(value, Integral) or math.isfinite(value)


def is_whole(value: object) -> bool:
    """True for a finite number without a fractional part (7, 7.0), of any size."""
    return _is_number(value) and value == int(value)


def number(value: object, what: str, low: float, high: float) -> float:
    """`value` as a finite float in [low, high]."""
    if not _is_number(value) or not low <= value <= high:
        raise PlaygroundError(f"{what} must be a number between {low:g} and {high:g}, got {shown(value)}.")
    return float(value)


def whole_number(value: object, what: str, low: int, high: int) -> int:
    """`value` as an int in [low, high]; a float is accepted only when it is whole (3.0)."""
    if not is_whole(value) or not low <= value <= high:
        raise PlaygroundError(f"{what} must be a whole number between {low:,} and {high:,}, got {shown(value)}.")
    return int(value)


def text(value: object, what: str, limit: int) -> str:
    """`value` as a str of at most `limit` characters (None counts as empty)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PlaygroundError(f"{what} must be text, got {type(value).__name__}.")
    if len(value) > limit:
        raise PlaygroundError(f"{what} has {len(value):,} characters; the limit is {limit:,}.")
    if not value.isascii() and not _is_unicode(value):
        raise PlaygroundError(f"{what} holds a character that is not valid Unicode (a lone surrogate, "
                              "as JSON's \\ud800 escape makes); nothing can store or show it.")
    return value


def _is_unicode(value: str) -> bool:
    """False for text with lone surrogates, which UTF-8 (SQLite, files, the browser) cannot hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def image_pixels(width: int, height: int, what: str) -> None:
    """Refuse an image of more than MAX_IMAGE_PIXELS pixels: a PNG of a few hundred KB may declare
    20,000 x 20,000 of them, over a gigabyte once decoded."""
    if width * height > MAX_IMAGE_PIXELS:
        raise PlaygroundError(f"{what} is {width:,} x {height:,} pixels; the limit is {MAX_IMAGE_PIXELS:,} pixels "
                              "(8192 x 8192).")


def parameters_chars() -> int:
    """The longest ``parameters`` text read from a PNG, in characters: a prompt, a negative prompt
    (a template's and a row's) and a subject at the prompt limit, with room for JSON quoting, which
    writes a non-ASCII character as up to 12 (each field is then held to the prompt limit itself)."""
    return PARAMETERS_PER_PROMPT * get_settings().max_prompt_chars


def shown(value: object) -> str:
    """The bad value as a person can read it: short, even for a 1 MB string or a list."""
    written = repr(value)
    return written if len(written) <= 40 else written[:37] + "..."
