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

from pydantic import BaseModel, ConfigDict, field_validator

from ..config import get_settings
from ..errors import PlaygroundError
from ..types import Column
from .datafiles import load_folder
from .datafiles import strict as raise_problems


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
        raise PlaygroundError(f"Template text {text!r} is malformed: {exc}.") from None
    missing = [name for name in needed if not str(values.get(name, "")).strip()]
    if missing:
        raise PlaygroundError(
            f"Template {text!r} needs a value for {', '.join('{' + m + '}' for m in missing)}; "
            f"given: {sorted(k for k, v in values.items() if str(v).strip()) or 'none'}."
        )
    return text.format_map({name: str(values[name]).strip() for name in needed})


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
    problems: tuple[str, ...] = ()  # entries skipped on load, as "FILE:LINE: what is wrong"

    def __getitem__(self, template_id: str) -> Template:
        try:
            return self.templates[template_id]
        except KeyError:
            raise PlaygroundError(f"Unknown template {template_id!r}; known templates: {', '.join(self.templates)}.") from None

    def __iter__(self):
        return iter(self.templates.values())

    def __len__(self) -> int:
        return len(self.templates)

    def ids(self) -> list[str]:
        return list(self.templates)

    def for_modality(self, modality: str, variant: str) -> Template:
        """The first template of a modality and variant (short/detailed)."""
        for template in self:
            if template.modality == modality and template.variant == variant:
                return template
        raise PlaygroundError(f"No {variant} template for modality {modality!r}.")


def load_templates(folder: Path | None = None, strict: bool = False) -> TemplateSet:
    """Every template in `folder/*.yaml` (default: PLAYGROUND_DATA's templates/). Bad entries are
    skipped and listed in `problems` (``FILE:LINE: ...``); with `strict`, any problem raises
    PlaygroundError instead."""
    folder = folder or get_settings().templates_dir
    by_id, problems = load_folder(folder, Template)
    if strict:
        raise_problems(problems)
    if not by_id:
        raise PlaygroundError(f"No valid templates found in {folder} (expected *.yaml files). " + " ".join(problems))
    return TemplateSet(by_id, tuple(problems))
