"""Checks for every value that comes from outside: numbers in range, text within its length.

A visitor, an API script or an imported file can send anything: infinity, 1e300, a 3 MB string,
a list where a number belongs. Each check here either returns the value in the type the code
needs or raises PlaygroundError with a sentence naming the value and what is allowed, so nothing
from outside reaches torch, SQLite or a JSON column unchecked.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

from .errors import PlaygroundError

SQLITE_MAX_INT = 2**63 - 1


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
        raise PlaygroundError(f"{what} must be a number between {low:g} and {high:g}, got {_shown(value)}.")
    return float(value)


def whole_number(value: object, what: str, low: int, high: int) -> int:
    """`value` as an int in [low, high]; a float is accepted only when it is whole (3.0)."""
    if not is_whole(value) or not low <= value <= high:
        raise PlaygroundError(f"{what} must be a whole number between {low:,} and {high:,}, got {_shown(value)}.")
    return int(value)


def text(value: object, what: str, limit: int) -> str:
    """`value` as a str of at most `limit` characters (None counts as empty)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PlaygroundError(f"{what} must be text, got {type(value).__name__}.")
    if len(value) > limit:
        raise PlaygroundError(f"{what} has {len(value):,} characters; the limit is {limit:,}.")
    return value


def _shown(value: object) -> str:
    """The bad value as a person can read it: short, even for a 1 MB string or a list."""
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."
