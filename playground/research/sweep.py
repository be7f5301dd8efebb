"""Batch sweeps from a study file: many subjects x templates x guidance settings x seeds.

    playground sweep glide-replication-quick --out runs/quick
    accelerate launch --multi_gpu --num_processes 2 -m playground sweep STUDY.yaml --out runs/NAME

The work is cut into units (one subject x up to 4 templates, every setting and seed), each a
`Comparison`; with `demographics: true`, a unit is one subject x one template drawn once per
patient subgroup of its modality (prompt_library/demographics.yaml). A unit writes its PNGs (with
parameters) and then its part of the table, atomically; a rerun skips units whose part and images
are on disk and verified, so an interrupted sweep resumes. `--multi_gpu` is accelerate's
multi-process launcher: without a GPU its processes join over gloo (`--cpu` alone starts one).
Under `accelerate launch` the units are split between processes with
`PartialState().split_between_processes`; the main process merges the parts into `results.parquet`
and `results.csv` (each written to a temporary file and renamed, never left half-written).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..catalog.curated import load_curated
from ..catalog.datafiles import describe
from ..catalog.demographics import load_demographics
from ..catalog.templates import TemplateSet, load_templates
from ..comparison import Comparison
from ..config import get_settings
from ..csv_files import write_csv
from ..errors import PlaygroundError
from ..files import atomic
from ..judges.base import AUTO, Context, Judges
from ..render.export import image_names, parse_parameters, read_parameters, save_images
from ..types import MAX_COLUMNS, MIN_CLIP_GUIDED_STEPS, GuidanceSetting
from ..workflow import subgroups
from ..workflow.compare import generate_and_evaluate
from .informative_order import RANDOM, Order
from .study import RatingSession


def _configured(name: str) -> Any:
    return Field(default_factory=lambda: getattr(get_settings(), name))


class Study(BaseModel):
    """A study file (YAML): what to generate and how to score it. Model and scorer default to
    PLAYGROUND_MODEL and PLAYGROUND_SCORER; each setting is checked as a Compare row is."""

    model_config = ConfigDict(extra="forbid")

    name: str
    model: str = _configured("model")
    scorer: str = _configured("scorer")
    medical_scorer: str | None = None
    domain_scorer: str | None = AUTO  # "auto": each image's domain CLIP by modality; an id pins one
    judge: str | None = None  # a vision-language checklist judge (P(yes) per question)
    subjects: list[str] = Field(min_length=1)
    templates: list[str] = Field(min_length=1)
    settings: list[GuidanceSetting] = Field(min_length=1)
    seeds: int = Field(4, ge=1)
    width: int | None = None
    height: int | None = None
    demographics: bool = False  # each template drawn once per patient subgroup of its modality (demographics.yaml)
    order: Order = RANDOM  # how raters are asked for the conditions (research/informative_order.py)
    checklist: bool = False  # raters answer the checklist questions too (research/checklist_ratings.py)

    @model_validator(mode="after")
    def _settings_allowed(self) -> Study:
        for number, setting in enumerate(self.settings, start=1):
            setting.check_inputs(where=f"settings entry {number}")
        return self


def find_study(name_or_path: str | Path) -> Path:
    """A study file by path, or by name among the shipped studies (PLAYGROUND_DATA/studies)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = get_settings().data_dir / "studies" / f"{path.stem}.yaml"
    if path.suffix in ("", ".yaml") and path.parent == Path(".") and shipped.is_file():
        return shipped
    known = sorted(p.stem for p in (get_settings().data_dir / "studies").glob("*.yaml"))
    raise PlaygroundError(f"There is no study file {str(name_or_path)!r}; give a path or one of: {', '.join(known)}.")


def load_study(path: str | Path, reduced: bool = False) -> Study:
    """A validated study; `reduced` keeps 2 subjects, 2 templates, 2 seeds and 2 steps (a quick CPU run;
    CLIP-guided rows keep the fewest steps guidance runs on)."""
    path = find_study(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PlaygroundError(f"{path} is not valid YAML ({getattr(exc, 'problem', None) or exc}).") from None
    if not isinstance(data, dict):
        raise PlaygroundError(f"{path} must be a mapping of study fields (name, subjects, templates, settings, ...).")
    try:
        study = Study(**data)
    except ValidationError as exc:
        raise PlaygroundError(f"{path}: {describe(exc)}") from None
    if reduced:
        study = study.model_copy(update={
            "subjects": study.subjects[:2], "templates": study.templates[:2], "seeds": min(study.seeds, 2),
            "settings": [replace(s, steps=min(s.steps, MIN_CLIP_GUIDED_STEPS if s.clip_guidance_scale else 2))
                         for s in study.settings],
        })
    return study


def units(study: Study, templates: TemplateSet) -> list[Comparison]:
    """The study's work as comparisons: each subject with up to 4 templates, all settings and seeds;
    with `demographics`, each subject with one template, once per patient subgroup (a template
    whose modality has none is refused before anything is drawn)."""
    options = dict(settings=list(study.settings), images_per_cell=study.seeds, model_id=study.model,
                   guidance_scorer_id=study.scorer, width=study.width, height=study.height)
    if study.demographics:
        demographics = load_demographics()
        return [Comparison(subject, subgroups.expand(templates[t].column(subject), subject, demographics), **options)
                for subject in study.subjects for t in study.templates]
    chunks = [study.templates[i : i + MAX_COLUMNS] for i in range(0, len(study.templates), MAX_COLUMNS)]
    return [Comparison.from_templates(subject, chunk, templates, **options) for subject in study.subjects for chunk in chunks]


def _prefix(index: int) -> str:
    return f"u{index:04d}-"


def _unit_done(index: int, unit: Comparison, out: Path) -> bool:
    """True when the unit's part table exists and every image is on disk with matching parameters."""
    part = out / "parts" / f"unit-{index:04d}.parquet"
    if not part.is_file():
        return False
    frame = pd.read_parquet(part)
    if len(frame) != unit.n_images:
        return False
    for name, row in zip(image_names(frame, _prefix(index)), frame.itertuples()):
        try:
            parameters = parse_parameters(read_parameters(out / "images" / name))
            if parameters.get("Seed") != str(row.seed) or parameters["prompt"] != row.prompt:
                return False
        except (OSError, KeyError, SyntaxError):
            return False
    return True


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    with atomic(path) as tmp:
        frame.to_parquet(tmp, index=False)


def run_unit(index: int, unit: Comparison, study: Study, out: Path, context: Context) -> None:
    """Generate, evaluate and save one unit: images first, then its part table."""
    judges = Judges(study.scorer, study.medical_scorer, study.domain_scorer, study.judge)
    result = generate_and_evaluate(unit, judges, context)
    paths = save_images(result.frame, result.images, out / "images", _prefix(index))
    frame = result.frame.assign(image_file=[p.name for p in paths])
    frame.insert(0, "unit", index)
    _write_parquet(frame, out / "parts" / f"unit-{index:04d}.parquet")


def merge(out: Path, n_units: int) -> pd.DataFrame:
    """All parts in unit order, written as results.parquet and results.csv (atomically)."""
    frame = pd.concat([pd.read_parquet(out / "parts" / f"unit-{i:04d}.parquet") for i in range(n_units)],
                      ignore_index=True)
    _write_parquet(frame, out / "results.parquet")
    write_csv(frame, out / "results.csv")
    return frame


def sweep(study: Study, out: Path) -> pd.DataFrame | None:
    """Run (or resume) `study` into `out`; returns the merged table on the main process."""
    import torch
    from accelerate import PartialState
    from tqdm.auto import tqdm

    state = PartialState(cpu=not torch.cuda.is_available())  # processes on CPUs split the units too (gloo)
    work = units(study, load_templates())
    context = Context(load_curated())  # once, not per unit
    for folder in (out / "images", out / "parts"):
        folder.mkdir(parents=True, exist_ok=True)
    with state.split_between_processes(list(range(len(work)))) as mine:
        if state.num_processes > 1:
            print(f"{study.name}: process {state.process_index + 1} of {state.num_processes} takes {len(mine)} of "
                  f"{len(work)} units.", file=sys.stderr, flush=True)
        for index in tqdm(mine, desc=f"{study.name} [{state.process_index}]", disable=not state.is_local_main_process):
            if not _unit_done(index, work[index], out):
                run_unit(index, work[index], study, out, context)
    state.wait_for_everyone()
    if not state.is_main_process:
        return None
    frame = merge(out, len(work))
    session = RatingSession(out)
    session.choose_order(study.order)
    session.ask_checklist(study.checklist)
    return frame
