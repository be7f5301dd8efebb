"""Prompt templates: YAML files in `prompt_library/templates/` that a domain expert edits.

A template is a sentence with slots, e.g. ``A histopathological image of {subject}``. Files are
validated on load (unknown fields, missing fields and a text without ``{subject}`` are errors that
name the file and the field), and filling a template with a missing slot names every missing slot.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .config import PROMPT_LIBRARY

TEMPLATES_DIR = PROMPT_LIBRARY / "templates"


def slots_of(text: str) -> list[str]:
    """The slot names in a template text, in order of first use (``{subject}`` -> ``subject``)."""
    names: list[str] = []
    for _, field, _, _ in string.Formatter().parse(text):
        if field is None:
            continue
        if not field.isidentifier():
            raise ValueError(f"slot {{{field}}} is not a plain name; use names like {{subject}}")
        if field not in names:
            names.append(field)
    return names


def fill(text: str, **values: str) -> str:
    """Fill a template text's slots; a missing or empty slot value is an error naming all of them."""
    try:
        needed = slots_of(text)
    except ValueError as exc:  # unbalanced braces etc.
        raise ValueError(f"Template text {text!r} is malformed: {exc}.") from None
    missing = [name for name in needed if not str(values.get(name, "")).strip()]
    if missing:
        raise ValueError(
            f"Template {text!r} needs a value for {', '.join('{' + m + '}' for m in missing)}; "
            f"given: {sorted(k for k, v in values.items() if str(v).strip()) or 'none'}."
        )
    return text.format_map({name: str(values[name]).strip() for name in needed})


@dataclass(frozen=True)
class Column:
    """One column of a comparison grid: a filled prompt, from a template or typed freely."""

    prompt: str
    template_id: str = "free"
    negative_prompt: str = ""
    modality: str = ""


class Template(BaseModel):
    """One prompt template as written in a YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    modality: str
    text: str
    negative_prompt: str = ""
    variant: Literal["short", "detailed"] = "short"
    tags: tuple[str, ...] = ()

    @field_validator("text")
    @classmethod
    def _needs_subject(cls, text: str) -> str:
        if "subject" not in slots_of(text):
            raise ValueError("must contain the slot {subject}")
        return text

    @property
    def slots(self) -> list[str]:
        return slots_of(self.text)

    def fill(self, subject: str, **values: str) -> str:
        return fill(self.text, subject=subject, **values)

    def column(self, subject: str, prompt: str | None = None) -> Column:
        """A grid column for this template: its filled text (or an edited `prompt`) and metadata."""
        return Column(prompt if prompt is not None else self.fill(subject), self.id, self.negative_prompt, self.modality)


@dataclass(frozen=True)
class TemplateSet:
    """All templates of a folder, by id, in file order."""

    templates: Mapping[str, Template]

    def __getitem__(self, template_id: str) -> Template:
        try:
            return self.templates[template_id]
        except KeyError:
            raise ValueError(f"Unknown template {template_id!r}; known templates: {', '.join(self.templates)}.") from None

    def __iter__(self):
        return iter(self.templates.values())

    def __len__(self) -> int:
        return len(self.templates)

    def ids(self) -> list[str]:
        return list(self.templates)


def _describe(error: ValidationError) -> str:
    return "; ".join(f"field '{'.'.join(map(str, e['loc'])) or '?'}': {e['msg']}" for e in error.errors())


def load_file(path: Path) -> list[Template]:
    """Templates of one YAML file (a list of mappings), validated."""
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of templates, found {type(entries).__name__}.")
    templates = []
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: template #{index} is not a mapping of fields.")
        try:
            templates.append(Template(**entry))
        except ValidationError as exc:
            raise ValueError(f"{path}: template #{index} ({entry.get('id', 'no id')}): {_describe(exc)}") from None
    return templates


def load_templates(folder: Path = TEMPLATES_DIR) -> TemplateSet:
    """Every template in `folder/*.yaml`; ids must be unique across files."""
    by_id: dict[str, Template] = {}
    origin: dict[str, Path] = {}
    for path in sorted(folder.glob("*.yaml")):
        for template in load_file(path):
            if template.id in by_id:
                raise ValueError(f"{path}: template id {template.id!r} is already defined in {origin[template.id]}.")
            by_id[template.id] = template
            origin[template.id] = path
    if not by_id:
        raise ValueError(f"No templates found in {folder} (expected *.yaml files).")
    return TemplateSet(by_id)
