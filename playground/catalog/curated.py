"""The curated medical content of `prompt_library/`: criteria, confusion cases, subjects, probe styles.

Each is a YAML list that a domain expert edits; entries are validated one by one (see datafiles),
so a typo skips one entry and is reported with its file and line instead of stopping the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from ..config import get_settings
from ..errors import PlaygroundError
from .datafiles import load_entries, strict


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criterion(_Entry):
    """A yes/no check: CLIP answers zero-shot by choosing between two statements, a
    vision-language judge by answering the question."""

    id: str
    label: str
    modalities: tuple[str, ...]
    present: str
    absent: str
    question: str
    subjects: tuple[str, ...] = ()  # empty: every subject of the modalities

    def applies_to(self, modality: str, subject: str) -> bool:
        wanted = subject.strip().lower()
        return modality in self.modalities and (not self.subjects or any(s.lower() == wanted for s in self.subjects))


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
    synonyms: tuple[str, ...] = ()  # other names, tried by the prompt search


class ProbeStyle(_Entry):
    id: str
    label: str


class Finding(_Entry):
    """A chest x-ray finding the proxy classifier knows, and the words a prompt names it by."""

    finding: str  # the classifier's output name (torchxrayvision's pathology)
    words: tuple[str, ...]


@dataclass(frozen=True)
class Curated:
    """Everything curated, plus the problems met while loading it."""

    criteria: tuple[Criterion, ...]
    confusions: tuple[Confusion, ...]
    subjects: tuple[Subject, ...]
    styles: tuple[ProbeStyle, ...]
    findings: tuple[Finding, ...] = ()
    problems: tuple[str, ...] = field(default=())

    def criteria_for(self, modality: str, subject: str = "") -> list[Criterion]:
        """The criteria of an image of `modality` showing `subject` (subject-specific ones only
        where the subject is theirs)."""
        return [c for c in self.criteria if c.applies_to(modality, subject)]

    def confusers_of(self, subject: str) -> list[str]:
        """Labels a model is known to draw instead of `subject` (case-insensitive match)."""
        wanted = subject.strip().lower()
        return [label for c in self.confusions if c.subject.lower() == wanted for label in c.confusers]

    def synonyms_of(self, subject: str) -> list[str]:
        """Other names of `subject` (subjects.yaml; case-insensitive match)."""
        wanted = subject.strip().lower()
        return [name for s in self.subjects if s.subject.lower() == wanted for name in s.synonyms]

    def finding_in(self, text: str) -> str:
        """The first finding `text` names (whole words, longest phrase first; no negation
        handling: "no pleural effusion" names Effusion), or ''."""
        words = sorted(((w, f.finding) for f in self.findings for w in f.words), key=lambda pair: -len(pair[0]))
        spans = [(m.start(), finding) for word, finding in words
                 for m in [re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE)] if m]
        return min(spans)[1] if spans else ""

    def confusion(self, case_id: str) -> Confusion:
        for case in self.confusions:
            if case.id == case_id:
                return case
        raise PlaygroundError(f"Unknown confusion case {case_id!r}; known: {', '.join(c.id for c in self.confusions)}.")


def load_curated(folder: Path | None = None, must_be_clean: bool = False) -> Curated:
    """Load criteria.yaml, confusions.yaml, subjects.yaml, probe.yaml and findings.yaml from
    `folder` (default: PLAYGROUND_DATA)."""
    folder = folder or get_settings().data_dir
    problems: list[str] = []
    loaded = {}
    for name, model in (("criteria", Criterion), ("confusions", Confusion), ("subjects", Subject), ("probe", ProbeStyle),
                        ("findings", Finding)):
        path = folder / f"{name}.yaml"
        entries, found = load_entries(path, model) if path.is_file() else ([], [f"{path}: missing."])
        loaded[name] = tuple(entries)
        problems += found
    if must_be_clean:
        strict(problems)
    return Curated(loaded["criteria"], loaded["confusions"], loaded["subjects"], loaded["probe"], loaded["findings"],
                   tuple(problems))
