"""A Compare form as a link: the whole form in a URL's query, and the query read back as a form.

The state lives in the URL, not in server memory, so a link reopens the same form after a
restart, on another machine, or in another browser; the grid itself comes back from the image
cache where its images are there (see `ui.compare`). A query is outside input like any other: it
is held to a length, its fields are read by `CompareForm.from_fields` (the same checks as the
tab's widgets), and whatever it names is checked again by `CompareForm.resolve` before anything
is drawn. Parameter names are the form's field names (`subject`, `template_1`, `prompt_1`, ...,
`model` once per model); `settings` is the rows as JSON, present only when the person's own rows
run instead of each model's preset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from urllib.parse import parse_qs, urlencode

from .. import limits
from ..errors import PlaygroundError
from ..types import MAX_COLUMNS
from .form import SETTINGS_HEADERS, CompareForm, table_of

MAX_QUERY_CHARS = 4 * MAX_COLUMNS * 2_000 + 8_000  # a ceiling against abuse: a full form of long prompts, percent-encoded
STRUCTURED = ("columns", "settings", "models", "filled_for", "label")  # written field by field, or not at all
SCALARS = tuple(f.name for f in fields(CompareForm) if f.name not in STRUCTURED)  # every other field of the form
NUMBERS = tuple(f.name for f in fields(CompareForm) if f.type == "int")
FLAGS = tuple(f.name for f in fields(CompareForm) if f.type == "bool")
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
KNOWN = {*SCALARS, "model", "settings", *(f"{kind}_{i}" for kind in ("template", "prompt") for i in range(1, MAX_COLUMNS + 1))}


def query(form: CompareForm) -> str:
    """The URL query ("?subject=...&...") that reopens `form`."""
    values = asdict(form)
    pairs: list[tuple[str, object]] = [(name, values[name]) for name in SCALARS]
    for i, (template_id, prompt) in enumerate(form.columns, start=1):
        pairs += [(f"template_{i}", template_id), (f"prompt_{i}", prompt)]
    pairs += [("model", model) for model in form.models]
    if form.settings is not None:
        pairs.append(("settings", json.dumps(table_of(form.settings).values.tolist())))
    return "?" + urlencode(pairs)


def is_link(params: Mapping[str, object]) -> bool:
    """Whether a page's query parameters ask to reopen a form (any of the form's fields is there)."""
    return any(name in KNOWN for name in params)


def form_of(params: Mapping[str, str | Sequence[str]] | str) -> CompareForm:
    """The form a link's query holds (a query string, or its parameters as a page receives
    them); a query too long, a field twice or rows that are not a table are refused in a sentence."""
    if isinstance(params, str):
        limits.text(params, "The link's query", MAX_QUERY_CHARS)
        params = parse_qs(params.lstrip("?"), keep_blank_values=True)
    given = _lists(params)
    found: dict[str, object] = {name: _one(name, values) for name, values in given.items()
                                if name in KNOWN and name != "model"}
    limits.text("".join(str(v) for v in found.values()), "The link's form", MAX_QUERY_CHARS)
    found["model"] = given.get("model", [])
    if "settings" in found:
        found["settings"] = {"headers": SETTINGS_HEADERS, "data": _rows(str(found["settings"]))}
    found |= {name: _number(str(found[name])) for name in NUMBERS if name in found}
    found |= {name: _flag(name, str(found[name])) for name in FLAGS if name in found}
    found["filled_for"] = found.get("subject", "")  # a template column's prompt was filled for the link's subject
    return CompareForm.from_fields(found)


def _lists(params: Mapping[str, str | Sequence[str]]) -> dict[str, list[str]]:
    return {name: [values] if isinstance(values, str) else list(values) for name, values in params.items()}


def _one(name: str, values: list[str]) -> str:
    if len(values) != 1:
        raise PlaygroundError(f"The link gives {name!r} {len(values)} times; a field other than 'model' appears once.")
    return values[0]


def _number(text: str) -> float | str:
    """A number field's value as a number, or as written when it is none (the form's check names it)."""
    try:
        return float(text)
    except ValueError:
        return text


def _flag(name: str, text: str) -> bool:
    """An on/off field's value ("true" or "false")."""
    if text.strip().lower() not in (*TRUE, *FALSE):
        raise PlaygroundError(f"The link gives {name!r} as {limits.shown(text)}; it is true or false.")
    return text.strip().lower() in TRUE


def _rows(text: str) -> list[list[object]]:
    """The link's guidance rows: a JSON list of rows, each the settings table's columns in order."""
    try:
        rows = json.loads(text)
    except ValueError:
        rows = None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise PlaygroundError(f"The link's guidance rows are not a list of rows (got {limits.shown(text)}); copy the "
                              "link again from the Compare tab.")
    return rows
