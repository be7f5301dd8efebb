"""Load the YAML data files a domain expert edits: lists of entries, each validated on its own.

A bad entry (unknown field, missing field, wrong type) or a file that is not valid YAML is
reported as "FILE:LINE: what is wrong" and skipped, so one typo never stops the app; callers that
must be strict (tests, the CLI) raise on the first problem.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import PlaygroundError

M = TypeVar("M", bound=BaseModel)


def describe(error: ValidationError) -> str:
    return "; ".join(f"field '{'.'.join(map(str, e['loc'])) or '?'}': {e['msg']}" for e in error.errors())


def load_entries(path: Path, model: type[M]) -> tuple[list[M], list[str]]:
    """Entries of one YAML file (a list of mappings) as `model`s, and the problems found."""
    try:
        loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        return [], [f"{path}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc}); file skipped."]
    if root is None:
        return [], []
    if not isinstance(root, yaml.SequenceNode):
        return [], [f"{path}:{root.start_mark.line + 1}: expected a list of entries; file skipped."]
    entries, problems = [], []
    for node in root.value:
        where = f"{path}:{node.start_mark.line + 1}"
        value = yaml.SafeLoader("").construct_document(node)
        if not isinstance(value, dict):
            problems.append(f"{where}: an entry must be a mapping of fields; skipped.")
            continue
        try:
            entries.append(model(**value))
        except ValidationError as exc:
            problems.append(f"{where}: entry {value.get('id', '')!r}: {describe(exc)}; skipped.")
    return entries, problems


def load_folder(folder: Path, model: type[M], key: str = "id") -> tuple[dict[str, M], list[str]]:
    """Entries of every `*.yaml` in `folder` by their `key`; a repeated key is a problem."""
    by_key: dict[str, M] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        entries, found = load_entries(path, model)
        problems += found
        for entry in entries:
            name = getattr(entry, key)
            if name in by_key:
                problems.append(f"{path}: {key} {name!r} is defined twice; the second is skipped.")
            else:
                by_key[name] = entry
    return by_key, problems


def strict(problems: list[str]) -> None:
    """Raise PlaygroundError listing `problems`, if any."""
    if problems:
        raise PlaygroundError("\n".join(problems))


def load_cards(path: Path, model: type[M]) -> tuple[dict[str, M], tuple[str, ...]]:
    """A registry file (models.yaml, scorers.yaml, judges.yaml): its valid entries by `id`, and
    the problems found; a repeated id keeps the first entry. Read again when the file changes."""
    if not path.is_file():
        return {}, (f"{path}: not found.",)
    return _cards(path, path.stat().st_mtime, model)


@lru_cache(maxsize=16)
def _cards(path: Path, _mtime: float, model: type[M]) -> tuple[dict[str, M], tuple[str, ...]]:
    entries, problems = load_entries(path, model)
    cards: dict[str, M] = {}
    for card in entries:
        if card.id in cards:
            problems.append(f"{path}: {card.id!r} is listed twice; the first entry is kept.")
        cards.setdefault(card.id, card)
    return cards, tuple(problems)
