"""The curated medical content of `prompt_library/`: criteria, confusion cases, subjects, probe styles.

Each is a YAML list that a domain expert edits; entries are validated one by one (see datafiles),
so a typo skips one entry and is reported with its file and line instead of stopping the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from .config import get_settings
from .datafiles import load_entries, strict
from .errors import PlaygroundError


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criterion(_Entry):
    """A yes/no check CLIP answers zero-shot by choosing between two statements."""

    id: str
    label: str
    modalities: tuple[str, ...]
    present: str
    absent: str


class Confusion(_Entry):
    """A documented failure case, for teaching."""

    id: str
    subject: str
    modality: str
    draws: str
    confusers: tuple[str, ...]
    why: str

    @field_validator("confusers")
    @classmethod
    def _some_confusers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one label of what the model draws instead")
        return value


class Subject(_Entry):
    subject: str
    field: str
    study: bool = False
    definition: str = ""


class ProbeStyle(_Entry):
    id: str
    label: str


@dataclass(frozen=True)
class Curated:
    """Everything curated, plus the problems met while loading it."""

    criteria: tuple[Criterion, ...]
    confusions: tuple[Confusion, ...]
    subjects: tuple[Subject, ...]
    styles: tuple[ProbeStyle, ...]
    problems: tuple[str, ...] = field(default=())

    def criteria_for(self, modality: str) -> list[Criterion]:
        return [c for c in self.criteria if modality in c.modalities]

    def confusers_of(self, subject: str) -> list[str]:
        """Labels a model is known to draw instead of `subject` (case-insensitive match)."""
        wanted = subject.strip().lower()
        return [label for c in self.confusions if c.subject.lower() == wanted for label in c.confusers]

    def confusion(self, case_id: str) -> Confusion:
        for case in self.confusions:
            if case.id == case_id:
                return case
        raise PlaygroundError(f"Unknown confusion case {case_id!r}; known: {', '.join(c.id for c in self.confusions)}.")


def load_curated(folder: Path | None = None, must_be_clean: bool = False) -> Curated:
    """Load criteria.yaml, confusions.yaml, subjects.yaml and probe.yaml from `folder`
    (default: PLAYGROUND_DATA)."""
    folder = folder or get_settings().data_dir
    problems: list[str] = []
    loaded = {}
    for name, model in (("criteria", Criterion), ("confusions", Confusion), ("subjects", Subject), ("probe", ProbeStyle)):
        path = folder / f"{name}.yaml"
        entries, found = load_entries(path, model) if path.is_file() else ([], [f"{path}: missing."])
        loaded[name] = tuple(entries)
        problems += found
    if must_be_clean:
        strict(problems)
    return Curated(loaded["criteria"], loaded["confusions"], loaded["subjects"], loaded["probe"], tuple(problems))
