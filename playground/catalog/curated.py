"""The curated medical content of `prompt_library/`: criteria, confusion cases, subjects, probe styles.

Each is a YAML list that a domain expert edits; entries are validated one by one (see datafiles),
so a typo skips one entry and is reported with its file and line instead of stopping the app.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
    vision-language judge by answering the question.

    `require` names its gates: criteria that must hold for this one to mean anything ("Is the
    heart shadow enlarged?" only on a chest radiograph). Where a gate fails, the judges mark this
    criterion skipped and leave it out of the score (see `check_gates` for what a gate must be).
    """

    id: str
    label: str
    modalities: tuple[str, ...]
    present: str
    absent: str
    question: str
    subjects: tuple[str, ...] = ()  # empty: every subject of the modalities
    require: tuple[str, ...] = ()  # ids of its gates; one id or a list in the file

    @field_validator("require", mode="before")
    @classmethod
    def _one_or_a_list(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    def applies_to(self, modality: str, subject: str) -> bool:
        wanted = subject.strip().lower()
        return modality in self.modalities and (not self.subjects or any(s.lower() == wanted for s in self.subjects))

    def covers(self, other: Criterion) -> bool:
        """Whether this criterion applies to every image `other` applies to (so it can gate it)."""
        subjects = {s.lower() for s in self.subjects}
        return set(other.modalities) <= set(self.modalities) and (
            not subjects or bool(other.subjects) and {s.lower() for s in other.subjects} <= subjects)


def _cycle(start: Criterion, kept: dict[str, Criterion]) -> list[str]:
    """The ids of a path of gates from `start` back to itself ([] when none: no cycle through it)."""
    seen: set[str] = set()

    def walk(criterion: Criterion, path: list[str]) -> list[str]:
        for gate in (kept[g] for g in criterion.require if g in kept):
            if gate.id == start.id:
                return [*path, gate.id]
            if gate.id not in seen:
                seen.add(gate.id)
                if found := walk(gate, [*path, gate.id]):
                    return found
        return []

    return walk(start, [start.id])


def _gate_fault(criterion: Criterion, kept: dict[str, Criterion], known: set[str]) -> str:
    """What is wrong with `criterion`'s gates among the `kept` criteria ('' when nothing)."""
    for gate_id in criterion.require:
        if gate_id not in known:
            return f"names no criterion {gate_id!r}; a gate is the id of another criterion of this file"
        if gate_id not in kept:
            return f"its gate {gate_id!r} is skipped, so it cannot be checked"
        gate = kept[gate_id]
        if not gate.covers(criterion):
            return (f"its gate {gate_id!r} (modalities {list(gate.modalities)}, subjects "
                    f"{list(gate.subjects) or 'all'}) does not apply to every image it does (modalities "
                    f"{list(criterion.modalities)}, subjects {list(criterion.subjects) or 'all'}); a gate must "
                    "apply wherever its criterion does")
    if cycle := _cycle(criterion, kept):
        return f"gates go round in a cycle ({' -> '.join(cycle)}); a criterion cannot require itself"
    return ""


def check_gates(criteria: Sequence[Criterion], path: Path) -> tuple[list[Criterion], list[str]]:
    """The criteria of `path` whose gates are sound, and a problem for each that is not: a
    `require` naming no criterion, a gate that does not apply to every modality and subject its
    criterion does (it would not be asked), a cycle, or a gate skipped itself (so its children go too)."""
    known = {c.id for c in criteria}
    kept = {c.id: c for c in criteria}
    problems: list[str] = []
    while faults := {c.id: why for c in kept.values() if (why := _gate_fault(c, kept, known))}:
        problems += [f"{path}: entry {c_id!r}: field 'require': {why}; skipped." for c_id, why in faults.items()]
        kept = {c_id: c for c_id, c in kept.items() if c_id not in faults}
    return list(kept.values()), problems


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
    """Load criteria.yaml (its gates checked: `check_gates`), confusions.yaml, subjects.yaml,
    probe.yaml and findings.yaml from `folder` (default: PLAYGROUND_DATA)."""
    folder = folder or get_settings().data_dir
    problems: list[str] = []
    loaded = {}
    for name, model in (("criteria", Criterion), ("confusions", Confusion), ("subjects", Subject), ("probe", ProbeStyle),
                        ("findings", Finding)):
        path = folder / f"{name}.yaml"
        entries, found = load_entries(path, model) if path.is_file() else ([], [f"{path}: missing."])
        loaded[name] = tuple(entries)
        problems += found
    criteria, gate_problems = check_gates(loaded["criteria"], folder / "criteria.yaml")
    problems += gate_problems
    if must_be_clean:
        strict(problems)
    return Curated(tuple(criteria), loaded["confusions"], loaded["subjects"], loaded["probe"], loaded["findings"],
                   tuple(problems))
