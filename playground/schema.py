"""The result frame's columns, each declared once: name, meaning, type, and the step that adds it.

One row per image. The Compare table, the ZIP's results.csv, a sweep's results.parquet, the study
and the statistics all read frames built from this declaration, and code finds columns through it
(`judged`, `scores`, `of_step`), never by a piece of a column's name. A new judge declares its
columns here, in one line each.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

Kind = Literal["str", "int", "float", "bool", "list"]
Scale = tuple[float, float]
PERCENT: Scale = (0.0, 100.0)
PROBABILITY: Scale = (0.0, 1.0)


@dataclass(frozen=True)
class ResultColumn:
    """One column of the result frame.

    Attributes:
        name: the column's name in every table and export.
        meaning: what it holds, with its unit (the README's table is generated from these).
        kind: its type: str, int, float, bool, or list (a structured value: a list of records,
            kept as such in the frame and Parquet, written as JSON in a CSV).
        step: the step that adds it (generate, a judge's id, rank, save, sweep).
        judged: a judge's verdict on the image; blank (NaN, "" or None) for an output that is not
            a real image, since nothing can be said about it.
        badge: short label shown beside the value under each image.
        scale: (lowest, highest) of a score, e.g. (0, 100) for a CLIP score and (0, 1) for a
            probability; None for anything that is not a score.
    """

    name: str
    meaning: str
    kind: Kind
    step: str
    judged: bool = False
    badge: str = ""
    scale: Scale | None = None

    @property
    def blank(self) -> float | str | None:
        """The value a judged column takes for an output that is not a real image."""
        return {"float": math.nan, "int": math.nan, "list": None}.get(self.kind, "")

    @property
    def decimals(self) -> int:
        """Decimals that show a difference on this column's scale: 1 on 0-100, 2 on 0-1."""
        return 1 if self.scale and self.scale[1] - self.scale[0] > 10 else 2

    def normalised(self, value: float) -> float:
        """`value` placed on 0-1 by the column's scale, so scores of different scales compare."""
        low, high = self.scale or (0.0, 1.0)
        return (value - low) / (high - low)


def _columns(*columns: ResultColumn) -> dict[str, ResultColumn]:
    return {c.name: c for c in columns}


COLUMNS: dict[str, ResultColumn] = _columns(
    ResultColumn("subject", "the medical subject as typed", "str", "generate"),
    ResultColumn("column", "0-based column of the grid (which prompt)", "int", "generate"),
    ResultColumn("row", "0-based row of the grid (which model x guidance setting)", "int", "generate"),
    ResultColumn("template_id", "template the prompt came from, or 'free' for a typed prompt", "str", "generate"),
    ResultColumn("modality", "the template's modality (histopathology, x-ray, ...); '' for a free prompt", "str", "generate"),
    ResultColumn("variant", "the Prompt S/R term this column's prompt carries (the column axis made of replacements of one word), or its patient subgroup's label, else ''", "str", "generate"),
    ResultColumn("subgroup", "the patient subgroup (its id in demographics.yaml) this column's prompt names, when the subgroup axis made the columns; else ''", "str", "generate"),
    ResultColumn("prompt", "the filled prompt sent to the model", "str", "generate"),
    ResultColumn("negative_prompt", "negative prompt sent to the model: the column's and the setting's, joined", "str", "generate"),
    ResultColumn("setting", "label of the guidance setting, for people (not unique)", "str", "generate"),
    ResultColumn("setting_key", "identity of the guidance setting: a hash of all its fields", "str", "generate"),
    ResultColumn("setting_negative_prompt", "the guidance setting's own negative prompt", "str", "generate"),
    ResultColumn("model_id", "model that drew the image", "str", "generate"),
    ResultColumn("scheduler", "sampler name (A1111 style) the model ran with", "str", "generate"),
    ResultColumn("steps", "denoising steps", "int", "generate"),
    ResultColumn("guidance_scale", "classifier-free guidance scale", "float", "generate"),
    ResultColumn("clip_guidance_scale", "CLIP guidance strength (0 = off)", "float", "generate"),
    ResultColumn("seed", "seed of this image's generator", "int", "generate"),
    ResultColumn("width", "image width in pixels", "int", "generate"),
    ResultColumn("height", "image height in pixels", "int", "generate"),
    ResultColumn("seconds", "wall time of the image's batch divided by its size", "float", "generate"),
    ResultColumn("from_cache", "True when the image came from the disk cache of generated images (same inputs as before)", "bool", "generate"),
    ResultColumn("prompt_ignored", "the end of a prompt longer than the model's longest-reading text encoder takes (77 tokens for CLIP), else ''", "str", "generate"),
    ResultColumn("negative_ignored", "a template's negative prompt the model did not use (its row runs without classifier-free guidance, or the model takes none), else ''", "str", "generate"),
    ResultColumn("image_problem", "'' for a real image, else why it is not one (black/NaN image, safety checker flag)", "str", "generate"),
    ResultColumn("decoder", "what turned the latents into this image: 'full' (the model's VAE) or 'fast' (its tiny decoder: a draft, decoded fully on demand)", "str", "generate"),
    ResultColumn("guidance_decoder", "what decoded CLIP guidance's clean-image estimate: 'full' (the VAE) or 'fast' (the tiny decoder); '' without CLIP guidance", "str", "generate"),
    ResultColumn("clip_prompt", "CLIP score of the image against its filled prompt: 100 x max(cosine, 0)", "float", "clip", True, "CLIP", PERCENT),
    ResultColumn("clip_subject", "CLIP score of the image against the bare subject, 0-100", "float", "clip", True, scale=PERCENT),
    ResultColumn("clip_scorer", "the general CLIP that scored", "str", "clip"),
    ResultColumn("medclip_prompt", "the medical CLIP's score against the filled prompt, 0-100", "float", "medclip", True, "med", PERCENT),
    ResultColumn("medclip_subject", "the medical CLIP's score against the bare subject, 0-100", "float", "medclip", True, scale=PERCENT),
    ResultColumn("medclip_scorer", "the medical CLIP that scored", "str", "medclip"),
    ResultColumn("domain_score", "the domain CLIP's score against the filled prompt (the scorer registered for the template's modality, or the one pinned), 0-100", "float", "domain", True, "domain", PERCENT),
    ResultColumn("domain_scorer", "the domain CLIP that scored ('' where none is registered)", "str", "domain"),
    ResultColumn("criteria_score", "CLIP's checklist: mean probability over the modality's expert criteria, those skipped (a gate failed) left out, 0-1 (NaN: none)", "float", "criteria", True, scale=PROBABILITY),
    ResultColumn("criteria_passed", "how many of the image's criteria CLIP finds (probability above 0.5; skipped ones not)", "int", "criteria", True),
    ResultColumn("criteria", "CLIP's checklist, one record per criterion: id, label, p (probability it holds), passed, require (ids of its gates), skipped (a gate failed: left out of the score)", "list", "criteria", True),
    ResultColumn("vlm_score", "the checklist judge (a vision-language model): mean P(yes) over the image's checklist questions, those skipped (a gate failed) left out, 0-1 (NaN: none)", "float", "vlm", True, "VLM", PROBABILITY),
    ResultColumn("vlm_raw_yes", "VQAScore as published: P('Yes') over the whole vocabulary at the answer position, the checklist judge's mean over the same questions as vlm_score, 0-1 (never above P(yes) renormalised over yes/no; NaN: none)", "float", "vlm", True, scale=PROBABILITY),
    ResultColumn("vlm_checklist", "the checklist judge's answers, one record per criterion: id, question, p_yes, raw_yes (P('Yes') over the whole vocabulary), require (ids of its gates), skipped (a gate failed: left out of the score)", "list", "vlm", True),
    ResultColumn("vlm_id", "the vision-language model that answered the checklist", "str", "vlm"),
    ResultColumn("checklist_calibrated", "the checklist judges' P(yes) beside its calibrated value, one record per criterion with a calibration fitted on experts' checklist answers (`playground stats calibrate RUN`; the latest): judge, model, id, p (raw), p_calibrated, study, fitted; [] where none", "list", "calibrated", True),
    ResultColumn("finding", "the chest x-ray finding an x-ray image's prompt names (findings.yaml), else ''", "str", "finding"),
    ResultColumn("finding_score", "the proxy classifier's probability of that finding, 0-1 (above 0.5: positive at its operating point; NaN: none)", "float", "finding", True, "finding", PROBABILITY),
    ResultColumn("finding_model", "the chest x-ray classifier that scored (torchxrayvision's, or its random offline stand-in)", "str", "finding"),
    ResultColumn("probe_top3", "what CLIP sees: its top 3 among subject, confusers and styles, as records of label and p (probability)", "list", "probe", True),
    ResultColumn("best_of_n", "the image of its cell (N seeds) with the highest checklist score (the checklist judge's when it answered, else CLIP's criteria score)", "bool", "rank"),
    ResultColumn("best_in_row", "the image of its grid row with the highest CLIP prompt score", "bool", "rank"),
    ResultColumn("image_path", "where the PNG (with its parameters) was saved", "str", "save"),
    ResultColumn("image_file", "the PNG's file name inside the ZIP or the sweep's images/ folder", "str", "save"),
    ResultColumn("unit", "the sweep unit (subject x up to 4 templates) the image belongs to", "int", "sweep"),
    ResultColumn("file", "the image file judged as given (`playground judge`, the Judge tab): its path, or an upload's own name", "str", "read"),
)

# The pairs a CLIP-family scorer fills: (image vs filled prompt, image vs bare subject, scorer id).
CLIP = ("clip_prompt", "clip_subject", "clip_scorer")
MEDCLIP = ("medclip_prompt", "medclip_subject", "medclip_scorer")
PRIMARY_SCORE = "clip_prompt"  # ranks images within a row ("best in row") and is the plot's default


def of_step(step: str) -> list[str]:
    """Names of the columns `step` adds, in declaration order."""
    return [c.name for c in COLUMNS.values() if c.step == step]


def judged(frame: pd.DataFrame) -> list[ResultColumn]:
    """The judged columns present in `frame`."""
    return [COLUMNS[name] for name in frame.columns if name in COLUMNS and COLUMNS[name].judged]


def scores(frame: pd.DataFrame | Mapping) -> list[str]:
    """The score columns (those with a declared scale) present in `frame` (or a row), in
    declaration order."""
    present = set(frame.columns if isinstance(frame, pd.DataFrame) else frame.keys())
    return [c.name for c in COLUMNS.values() if c.scale is not None and c.name in present]


def declare(*columns: ResultColumn) -> None:
    """Add columns to the declaration: what a judge registered outside the package does. A name
    already declared differently is refused, so no two judges write one column."""
    for column in columns:
        known = COLUMNS.get(column.name)
        if known is not None and known != column:
            raise ValueError(f"column {column.name!r} is already declared by step {known.step!r}")
        COLUMNS[column.name] = column


def new_frame(rows: Iterable[Mapping], step: str = "generate") -> pd.DataFrame:
    """A frame of `step`'s declared columns, in order, from row mappings."""
    return pd.DataFrame(list(rows), columns=of_step(step))


def undeclared(frame: pd.DataFrame) -> list[str]:
    """Columns of `frame` that are not declared (a test keeps this empty)."""
    return [name for name in frame.columns if name not in COLUMNS]


def forget(step: str) -> None:
    """Remove the columns declared under `step` (a judge that is unregistered)."""
    for name in of_step(step):
        del COLUMNS[name]


def markdown_table() -> str:
    """The declaration as a Markdown table, for the README."""
    lines = ["| column | type | scale | added by | meaning |", "|---|---|---|---|---|"]
    lines += [f"| `{c.name}` | {c.kind} | {f'{c.scale[0]:g}-{c.scale[1]:g}' if c.scale else ''} | {c.step} | {c.meaning} |"
              for c in COLUMNS.values()]
    return "\n".join(lines)
