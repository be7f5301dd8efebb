"""Patient subgroups per modality: `prompt_library/demographics.yaml`, the wording a clinician edits.

An axis (Fitzpatrick skin type; age and sex) lists its subgroups, each an id (the `subgroup`
column's value), a label for people and the words that put a prompt on that group of patients.
The file is validated as a whole and refused with every problem named ("FILE:LINE: field ..."):
a subgroup skipped for a typo would quietly change what a study compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..config import get_settings
from ..errors import PlaygroundError
from ..types import MAX_SUBGROUPS
from .datafiles import load_entries, strict

SUBGROUP_ID = r"^[a-z0-9][a-z0-9-]*$"  # a plain value in tables, file names and URLs


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subgroup(_Entry):
    """One group of patients: `wording` goes into the prompt, right after the subject."""

    id: str = Field(pattern=SUBGROUP_ID)
    label: str = Field(min_length=1)
    wording: str = Field(min_length=1)


class SubgroupAxis(_Entry):
    """The subgroups one prompt is drawn for, on the modalities they apply to."""

    id: str = Field(pattern=SUBGROUP_ID)
    varies: str = Field(min_length=1)
    modalities: tuple[str, ...] = Field(min_length=1)
    subgroups: tuple[Subgroup, ...] = Field(min_length=2, max_length=MAX_SUBGROUPS)

    @field_validator("subgroups")
    @classmethod
    def _distinct(cls, subgroups: tuple[Subgroup, ...]) -> tuple[Subgroup, ...]:
        for name in ("id", "label", "wording"):
            values = [getattr(s, name) for s in subgroups]
            if len(set(values)) < len(values):
                raise ValueError(f"each subgroup needs its own {name}; got {', '.join(values)}")
        return subgroups


@dataclass(frozen=True)
class Demographics:
    """Every axis of demographics.yaml, and the file it came from (named in refusals)."""

    axes: tuple[SubgroupAxis, ...]
    path: Path

    def axis_of(self, modality: str) -> SubgroupAxis:
        """The axis of `modality`; a modality without one is refused, naming those that have one."""
        for axis in self.axes:
            if modality in axis.modalities:
                return axis
        covered = ", ".join(m for axis in self.axes for m in axis.modalities)
        what = f"modality {modality!r}" if modality else "a free prompt (no template, so no modality)"
        raise PlaygroundError(f"There are no patient subgroups for {what} in {self.path}; subgroups are defined for: "
                              f"{covered}.")


def load_demographics(path: Path | None = None) -> Demographics:
    """demographics.yaml (default: PLAYGROUND_DATA's), checked: an entry with a bad field, a
    modality in two axes or a subgroup id used twice refuses the file with every problem found."""
    path = path or get_settings().data_dir / "demographics.yaml"
    if not path.is_file():
        raise PlaygroundError(f"There is no patient subgroup file at {path}.")
    axes, problems = load_entries(path, SubgroupAxis)
    seen_modalities: dict[str, str] = {}
    seen_ids: dict[str, str] = {}
    for axis in axes:
        for modality in axis.modalities:
            if modality in seen_modalities:
                problems.append(f"{path}: entry {axis.id!r}: field 'modalities': {modality!r} already has the axis "
                                f"{seen_modalities[modality]!r}; a modality has one axis.")
            seen_modalities.setdefault(modality, axis.id)
        for subgroup in axis.subgroups:
            if subgroup.id in seen_ids:
                problems.append(f"{path}: entry {axis.id!r}: field 'subgroups.id': {subgroup.id!r} is used by the axis "
                                f"{seen_ids[subgroup.id]!r} too; each subgroup id is used once.")
            seen_ids.setdefault(subgroup.id, axis.id)
    strict(problems)
    return Demographics(tuple(axes), path)
