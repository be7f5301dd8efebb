"""Patient subgroups as a grid axis: one prompt drawn once per group of patients.

As Prompt S/R makes one column per term, `expand` makes one column per subgroup of the column's
modality (prompt_library/demographics.yaml: Fitzpatrick types I-VI for skin photographs, age and
sex for radiology): the subgroup's wording goes right after the subject ("An x-ray image of
pneumonia in a 75-year-old woman, ..."), where CLIP's 77 tokens still read it, or at the prompt's
end when the prompt does not name the subject. Each column's `variant` is the subgroup's label
and its `subgroup` its id, so the result frame says which group each image was drawn for and
`gaps.gaps` compares every judge across the groups.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd

from .. import gaps, schema
from ..catalog.demographics import Demographics, load_demographics
from ..types import Column


def worded(prompt: str, subject: str, wording: str) -> str:
    """`prompt` with `wording` right after the first mention of `subject` (any case), else after
    the prompt, separated by a comma."""
    found = re.search(re.escape(subject.strip()), prompt, re.IGNORECASE) if subject.strip() else None
    if found:
        return f"{prompt[: found.end()]} {wording}{prompt[found.end():]}"
    return f"{prompt.rstrip().rstrip('.,;')}, {wording}"


def expand(column: Column, subject: str, demographics: Demographics | None = None) -> list[Column]:
    """One column per subgroup of `column`'s modality, its prompt naming the subgroup; a column
    whose modality has no subgroups (histopathology, a free prompt) is refused with a sentence."""
    axis = (demographics or load_demographics()).axis_of(column.modality)
    return [replace(column, prompt=worded(column.prompt, subject, s.wording), variant=s.label, subgroup=s.id)
            for s in axis.subgroups]


def shown_gaps(frame: pd.DataFrame | None) -> pd.DataFrame:
    """What Compare shows under the grid: per judge, its mean per subgroup and the largest gap
    with its interval, rounded to what the judge's scale tells apart; empty without the axis."""
    table = gaps.gaps(frame) if frame is not None else pd.DataFrame()
    if table.empty:
        return pd.DataFrame()
    summary = gaps.gap_summary(table).drop(columns=list(gaps.BY))
    numbers = summary.columns.difference(["judge", "highest", "lowest", "note"])
    decimals = summary["judge"].map(lambda judge: schema.COLUMNS[judge].decimals)
    summary[numbers] = summary[numbers].apply(lambda column: [round(v, d) for v, d in zip(column, decimals)])
    return summary
