"""Prompt search-and-replace as a grid axis, as in AUTOMATIC1111's "Prompt S/R".

"H&E, immunohistochemistry, Masson's trichrome" turns one prompt column into one column per term:
the first term is the text searched for in the prompt (its column is the prompt as typed), each
other term replaces every occurrence of it. Terms are comma-separated; a term holding a comma is
quoted ("a, b"), as in a CSV line.
"""

from __future__ import annotations

import csv
from dataclasses import replace

from .. import limits
from ..config import get_settings
from ..errors import PlaygroundError
from ..types import MAX_COLUMNS, Column


def parse(spec: str) -> list[str]:
    """The terms of an S/R line, in order, blanks dropped. Each term is held to the prompt limit,
    and the line to room for MAX_COLUMNS of them, before the csv module reads it (its own limit,
    131,072 characters a field, would raise an error no person could act on)."""
    chars = get_settings().max_prompt_chars
    limits.text(spec, "The Prompt S/R line", MAX_COLUMNS * (2 * chars + 4))  # each term quoted, its quotes doubled
    try:
        terms = [t.strip() for t in next(csv.reader([spec or ""], skipinitialspace=True), [])]
    except csv.Error:
        raise PlaygroundError(f"Prompt S/R could not be read as one line of comma-separated terms (got "
                              f"{limits.shown(spec)}): a term that holds a line break goes in double quotes, and "
                              f"a term has at most {chars:,} characters.") from None
    terms = [limits.text(t, "A Prompt S/R term", chars) for t in terms if t]
    if len(terms) < 2:
        raise PlaygroundError(f"Prompt S/R needs the word to replace and at least one replacement, comma-separated "
                              f"(e.g. \"H&E, immunohistochemistry\"); got {limits.shown(spec)}.")
    if len(terms) > MAX_COLUMNS:
        raise PlaygroundError(f"Prompt S/R makes one column per term, at most {MAX_COLUMNS}; got {len(terms)} terms.")
    if len(set(terms)) < len(terms):
        raise PlaygroundError(f"Prompt S/R terms must differ; got {', '.join(terms)}.")
    return terms


def expand(column: Column, spec: str) -> list[Column]:
    """One column per term of `spec`: `column` with the first term replaced by each term, its
    `variant` naming the term."""
    terms = parse(spec)
    search = terms[0]
    if search not in column.prompt:
        raise PlaygroundError(f"Prompt S/R: {search!r} does not occur in the prompt {column.prompt!r}; the first "
                              "term is the text to replace.")
    return [replace(column, prompt=column.prompt.replace(search, term), variant=term) for term in terms]
