"""Batch sweeps from a study file: many subjects x templates x guidance settings x seeds.

    python -m playground.sweep prompt_library/studies/glide-replication-quick.yaml --out runs/quick
    accelerate launch --cpu --num_processes 2 -m playground.sweep STUDY.yaml --out runs/NAME

The work is cut into units (one subject x up to 4 templates, every setting and seed), each a
`Comparison`. A unit writes its PNGs (with parameters) and then its part of the table, atomically;
a rerun skips units whose part and images are on disk and verified, so an interrupted sweep
resumes. Under `accelerate launch` the units are split between processes with
`PartialState().split_between_processes`; the main process merges the parts into `results.parquet`
and `results.csv` (each written to a temporary file and renamed, never left half-written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .curated import Curated, load_curated
from .datafiles import describe
from .export import a1111_parameters, atomic, read_parameters, save_png, write_csv
from .generate import MAX_COLUMNS, Comparison, GuidanceSetting, run
from .offline_models import TINY_PIPELINE_ID, TINY_SCORER_ID
from .templates import TemplateSet, load_templates
from .workflow import evaluate


class SettingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guidance_scale: float = 7.5
    steps: int = 20
    scheduler: str = "default"
    negative_prompt: str = ""
    clip_guidance_scale: float = 0.0


class Study(BaseModel):
    """A study file (YAML): what to generate and how to score it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    model: str = TINY_PIPELINE_ID
    scorer: str = TINY_SCORER_ID
    medical_scorer: str | None = None
    subjects: list[str]
    templates: list[str]
    settings: list[SettingSpec]
    seeds: int = 4
    width: int | None = None
    height: int | None = None


def load_study(path: Path, reduced: bool = False) -> Study:
    """A validated study; `reduced` keeps 2 subjects, 2 templates, 2 seeds and 2 steps (a quick CPU run)."""
    try:
        study = Study(**yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except ValidationError as exc:
        raise ValueError(f"{path}: {describe(exc)}") from None
    if reduced:
        study = study.model_copy(update={
            "subjects": study.subjects[:2], "templates": study.templates[:2], "seeds": min(study.seeds, 2),
            "settings": [s.model_copy(update={"steps": min(s.steps, 2)}) for s in study.settings],
        })
    return study


def units(study: Study, templates: TemplateSet) -> list[Comparison]:
    """The study's work as comparisons: each subject with up to 4 templates, all settings and seeds."""
    settings = [GuidanceSetting(**s.model_dump()) for s in study.settings]
    chunks = [study.templates[i : i + MAX_COLUMNS] for i in range(0, len(study.templates), MAX_COLUMNS)]
    return [
        Comparison.from_templates(subject, chunk, templates, settings=settings, images_per_cell=study.seeds,
                                  model_id=study.model, guidance_scorer_id=study.scorer,
                                  width=study.width, height=study.height)
        for subject in study.subjects for chunk in chunks
    ]


def _image_names(index: int, frame: pd.DataFrame) -> list[str]:
    return [f"u{index:04d}-r{r.row}-c{r.column}-s{r.seed}.png" for r in frame.itertuples()]


def _expected_names(index: int, unit: Comparison) -> list[str]:
    return [f"u{index:04d}-r{r}-c{c}-s{seed}.png"
            for r in range(len(unit.settings)) for c in range(len(unit.columns)) for seed in unit.seeds]


def _unit_done(index: int, unit: Comparison, out: Path) -> bool:
    """True when the unit's part table exists and every image is on disk with matching parameters."""
    part = out / "parts" / f"unit-{index:04d}.parquet"
    if not part.is_file():
        return False
    frame = pd.read_parquet(part)
    if len(frame) != unit.n_images:
        return False
    for name, row in zip(_image_names(index, frame), frame.itertuples()):
        try:
            parameters = read_parameters(out / "images" / name)
            if f"Seed: {row.seed}," not in parameters or not parameters.startswith(row.prompt):
                return False
        except (OSError, KeyError, SyntaxError):
            return False
    return True


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    with atomic(path) as tmp:
        frame.to_parquet(tmp, index=False)


def run_unit(index: int, unit: Comparison, study: Study, out: Path, curated: Curated) -> None:
    """Generate, evaluate and save one unit: images first, then its part table."""
    result = run(unit)
    frame = evaluate(result, study.scorer, study.medical_scorer, curated)
    names = _image_names(index, frame)
    for name, image, row in zip(names, result.images, frame.to_dict("records")):
        save_png(image, out / "images" / name, a1111_parameters(row))
    frame.insert(0, "unit", index)
    frame["image_file"] = names
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
    from accelerate import PartialState
    from tqdm.auto import tqdm

    state = PartialState()
    work = units(study, load_templates())
    curated = load_curated()  # once, not per unit
    for folder in (out / "images", out / "parts"):
        folder.mkdir(parents=True, exist_ok=True)
    with state.split_between_processes(list(range(len(work)))) as mine:
        for index in tqdm(mine, desc=f"{study.name} [{state.process_index}]", disable=not state.is_local_main_process):
            if not _unit_done(index, work[index], out):
                run_unit(index, work[index], study, out, curated)
    state.wait_for_everyone()
    return merge(out, len(work)) if state.is_main_process else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, help="a study file, e.g. prompt_library/studies/glide-replication.yaml")
    parser.add_argument("--out", type=Path, required=True, help="run folder (created; reused to resume)")
    parser.add_argument("--reduced", action="store_true", help="2 subjects, 2 templates, 2 seeds, 2 steps")
    args = parser.parse_args(argv)
    try:
        frame = sweep(load_study(args.study, args.reduced), args.out)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if frame is not None:
        print(f"{len(frame)} images; table: {args.out / 'results.parquet'} and results.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
