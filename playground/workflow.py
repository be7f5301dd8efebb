"""Generate, evaluate, save: the one path that the app, `compare()`, the sweep and the benchmark share.

`generate_and_evaluate` runs the engine and every chosen judge; `compare_to_folder` also saves the
PNGs (with their parameters, under one naming scheme), the labelled grid PNG and a ZIP; the
Compare tab streams the same through `stream_to_folder`, batch by batch; a sweep unit saves the
same PNGs into its run folder. What the UI shows is what the API returns.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from PIL import Image

from . import grid_image, schema
from .comparison import Comparison, ComparisonResult, GuidanceSetting
from .config import get_settings
from .curated import Curated, load_curated
from .errors import PlaygroundError
from .engine.generate import ProgressFn, joined, run, stream
from .engine.models import load_scorer
from .export import save_images, write_zip
from .judges.clip import add_clip_scores
from .engine.vlm import load_judge
from .judges.criteria import add_criteria, add_judge
from .judges.finding import add_findings
from .judges.domain import AUTO, add_domain_scores
from .judges.probe import probe
from .judges.rank import best_in_row, best_of_n
from .templates import load_templates


def new_run_folder(root: Path | None = None) -> Path:
    """A fresh folder under the outputs folder, named by UTC time and a random suffix."""
    root = root or get_settings().outputs_dir
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = root / f"{stamp}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    return folder


GRID_FILE = "grid.png"  # the labelled grid, in the ZIP and on its own
JUDGE_SECONDS_PER_IMAGE = 3.0  # a 2B vision-language judge answering one checklist on a ZeroGPU GPU


@dataclass(frozen=True)
class Judges:
    """Which judges score a result. `scorer_id` is the general CLIP (the criteria and the probe
    read its embeddings too); each other judge is off when None (or False). `domain_scorer_id`:
    "auto" routes each image to the domain CLIP of its modality (scorers.yaml), an id pins one."""

    scorer_id: str
    medical_scorer_id: str | None = None
    domain_scorer_id: str | None = AUTO
    judge_id: str | None = None  # the vision-language checklist judge
    finding: bool = True  # the chest x-ray proxy classifier, on x-ray images whose prompt names a finding
    best_by: str | None = None  # what best of N ranks by: "judge_score", "criteria_score" (default: the judge's)

    def gpu_seconds(self, n_images: int) -> int:
        """A ZeroGPU allowance for judging `n_images`: the checklist judge dominates (an estimate
        from its size, see README "Benchmarks"; the CLIPs and the x-ray classifier are cheap)."""
        return math.ceil(n_images * (JUDGE_SECONDS_PER_IMAGE if self.judge_id else 0))

    def checklist_score(self, row) -> float:
        """The score refinement and prompt search raise: the judge's mean P(yes) over the image's
        checklist when a judge is chosen, else CLIP's criteria score (NaN: no criteria)."""
        return float(row["judge_score"] if self.judge_id else row["criteria_score"])

    @classmethod
    def of(cls, judges: Judges | str) -> Judges:
        """`judges` itself, or a general CLIP's id alone (every other judge at its default)."""
        return judges if isinstance(judges, Judges) else cls(judges)


def evaluate(result: ComparisonResult, judges: Judges | str, curated: Curated | None = None) -> ComparisonResult:
    """The result with every chosen judge's columns: CLIP, the medical CLIP, the domain CLIP, the
    criteria checklist, the confusion probe, best of N per cell and best per row. An output that
    is not a real image (see engine.generate.image_problem) keeps every judged column blank."""
    judges = Judges.of(judges)
    return rank(judge(result, judges, curated or load_curated()), judges)


def judge(result: ComparisonResult, judges: Judges, curated: Curated) -> ComparisonResult:
    """Every judge's verdict on each image of `result`, image by image (no ranking: a streamed
    chunk is judged alone, then the whole grid so far is ranked)."""
    scorer = load_scorer(judges.scorer_id)
    embeddings = scorer.embed_images(result.images)
    result = add_clip_scores(result, scorer, image_embeddings=embeddings)
    if judges.medical_scorer_id:
        result = add_clip_scores(result, load_scorer(judges.medical_scorer_id), schema.MEDCLIP)
    frame = result.frame
    if judges.domain_scorer_id:
        frame = add_domain_scores(frame, result.images, judges.scorer_id, judges.domain_scorer_id)
    frame = add_criteria(frame, embeddings, scorer, curated)
    if judges.judge_id:
        frame = add_judge(frame, result.images, embeddings, scorer, load_judge(judges.judge_id), curated)
    if judges.finding:
        frame = add_findings(frame, result.images, curated, judges.scorer_id)
    frame["probe_top3"] = probe(embeddings, list(frame["subject"]), scorer, curated)
    not_images = frame["image_problem"] != ""
    for column in schema.judged(frame):
        frame.loc[not_images, column.name] = column.blank
    return replace(result, frame=frame)


def rank(result: ComparisonResult, judges: Judges) -> ComparisonResult:
    """`result` with its marks: best of N per cell and best per row, over every image it holds."""
    frame = result.frame.assign(best_of_n=best_of_n(result.frame, judges.best_by))
    return replace(result, frame=frame.assign(best_in_row=best_in_row(frame)))


def stream_and_evaluate(
    comparison: Comparison, judges: Judges | str, curated: Curated | None = None, progress: ProgressFn | None = None,
) -> Iterator[ComparisonResult]:
    """Generate `comparison` batch by batch, judging each batch as it comes; yields the whole
    grid so far (judged, ranked, in grid order) after every batch."""
    judges, curated = Judges.of(judges), curated or load_curated()
    chunks: list[ComparisonResult] = []
    for chunk in stream(comparison, progress):
        chunks.append(judge(chunk, judges, curated))
        yield rank(joined(chunks), judges)


def generate_and_evaluate(
    comparison: Comparison, judges: Judges | str, curated: Curated | None = None, progress: ProgressFn | None = None,
) -> ComparisonResult:
    """Generate `comparison`, then judge every image (see `evaluate`)."""
    return evaluate(run(comparison, progress), judges, curated)


def stream_to_folder(
    comparison: Comparison, judges: Judges | str, folder: Path | None = None, progress: ProgressFn | None = None,
    curated: Curated | None = None,
) -> Iterator[ComparisonResult]:
    """`stream_and_evaluate`, saving as it goes: after every batch the new PNGs (with their
    parameters), the labelled grid PNG and the ZIP are on disk, so a Stop (or a crash) keeps
    everything done so far. Each result yielded has `image_path`, `folder` and `zip_path`."""
    folder = folder or new_run_folder()
    saved: dict[tuple[int, int, int], Path] = {}
    for result in stream_and_evaluate(comparison, judges, curated, progress):
        yield save_result(result, folder, saved)


def save_result(result: ComparisonResult, folder: Path, saved: dict | None = None) -> ComparisonResult:
    """Save `result` into `folder`: each image's PNG (those not in `saved`, keyed by row,
    column and seed), the labelled grid PNG, and a ZIP of all of it."""
    saved = {} if saved is None else saved
    keys = list(zip(result.frame["row"], result.frame["column"], result.frame["seed"]))
    new = [i for i, key in enumerate(keys) if key not in saved]
    paths = save_images(result.frame.iloc[new], [result.images[i] for i in new], folder)
    saved.update({keys[i]: path for i, path in zip(new, paths)})
    paths = [saved[key] for key in keys]
    frame = result.frame.assign(image_path=[str(p) for p in paths])
    grid = grid_image.save(result.frame, result.images, folder / GRID_FILE)
    zip_path = write_zip(result.frame, paths, folder / "comparison.zip", extra=[grid])
    return replace(result, frame=frame, folder=folder, zip_path=zip_path)


def rerun_cell(
    comparison: Comparison, result: ComparisonResult, row: int, column: int, judges: Judges | str,
    curated: Curated | None = None, progress: ProgressFn | None = None,
) -> Iterator[ComparisonResult]:
    """Redraw one cell of a saved grid with new seeds, streaming: the grid with that cell's
    images replaced, saved into the grid's folder after every batch.

    Seed policy: the cell's new seeds follow the highest seed anywhere in the grid, so no seed
    repeats and each new image gets a PNG name of its own.
    """
    judges = Judges.of(judges)
    if not (0 <= row < len(comparison.rows) and 0 <= column < len(comparison.columns)):
        raise PlaygroundError(f"The grid has no cell at row {row + 1}, column {column + 1}.")
    model_id, setting = comparison.rows[row]
    cell = replace(comparison, columns=[comparison.columns[column]], settings=[setting], model_id=model_id,
                   base_seed=int(result.frame["seed"].max()) + 1)
    keep = ~((result.frame["row"] == row) & (result.frame["column"] == column))
    kept = ComparisonResult(result.frame[keep].drop(columns=["image_path"], errors="ignore"),
                            [image for image, k in zip(result.images, keep) if k])
    saved = {(r, c, s): Path(p) for r, c, s, p in result.frame[keep][["row", "column", "seed", "image_path"]].itertuples(index=False)}
    for new in stream_and_evaluate(cell, judges, curated, progress):
        moved = replace(new, frame=new.frame.assign(row=row, column=column))
        yield save_result(rank(joined([kept, moved]), judges), result.folder or new_run_folder(), saved)


def images_of(frame: pd.DataFrame) -> list[Image.Image]:
    """The saved images of a frame, read back from `image_path` (a grid held by the app as its frame)."""
    images = []
    for path in frame["image_path"]:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images


def compare_to_folder(
    comparison: Comparison, judges: Judges | str, folder: Path | None = None, progress: ProgressFn | None = None,
    curated: Curated | None = None,
) -> ComparisonResult:
    """Generate and evaluate `comparison`, then save each PNG (with parameters), the labelled
    grid PNG and a ZIP of all; the frame gains `image_path`."""
    result = generate_and_evaluate(comparison, judges, curated, progress)
    return save_result(result, folder or new_run_folder())


def compare(
    subject: str,
    template_ids: Sequence[str],
    settings: Sequence[GuidanceSetting] | None = None,
    images_per_cell: int = 2,
    model_id: str | Sequence[str] | None = None,
    scorer_id: str | None = None,
    medical_scorer_id: str | None = None,
    domain_scorer_id: str | None = AUTO,
    judge_id: str | None = None,
    folder: Path | None = None,
    save: bool = False,
    progress: ProgressFn | None = None,
    **kwargs,
) -> ComparisonResult:
    """Generate a template comparison and judge it, the way the Compare tab does, in one call.

    Args:
        subject: the medical subject, e.g. "melanoma".
        template_ids: 1 to 4 templates of prompt_library/templates/, one grid column each.
        settings: 1 to 4 guidance settings, one grid row each, on every model; None: each model's
            recommended rows (`model_preset`).
        model_id: a model, or up to 4 side by side (rows: model x setting); default PLAYGROUND_MODEL.
        scorer_id: the CLIP that scores; default PLAYGROUND_SCORER.
        medical_scorer_id: a second CLIP (e.g. BiomedCLIP) scoring beside the general one.
        domain_scorer_id: "auto" (the domain CLIP of each image's modality), a scorer id, or None.
        judge_id: a vision-language model answering each checklist question (P(yes)), e.g.
            "HuggingFaceTB/SmolVLM2-2.2B-Instruct" or "tiny-offline-vlm"; None: CLIP's checklist only.
        folder, save: with either, the PNGs and a ZIP are saved (to `folder`, or a new folder
            under PLAYGROUND_HOME/outputs) and `result.frame` gains `image_path`.
        **kwargs: further `Comparison` fields (base_seed, width, height).

    Example:
        >>> from playground import compare, GuidanceSetting
        >>> result = compare("melanoma", ["photo-short", "photo-detailed"],
        ...                  [GuidanceSetting(4, steps=2), GuidanceSetting(7.5, steps=2)])
        >>> result.frame[["template_id", "guidance_scale", "seed", "clip_prompt", "criteria_score"]]
    """
    config = get_settings()
    judges = Judges(scorer_id or config.scorer, medical_scorer_id, domain_scorer_id, judge_id)
    comparison = Comparison.from_templates(
        subject, template_ids, load_templates(), settings=settings, images_per_cell=images_per_cell,
        model_id=model_id or config.model, guidance_scorer_id=judges.scorer_id, **kwargs,
    )
    if save or folder:
        return compare_to_folder(comparison, judges, folder, progress)
    return generate_and_evaluate(comparison, judges, progress=progress)


def mean_scores(frame: pd.DataFrame, score: str = schema.PRIMARY_SCORE) -> pd.DataFrame:
    """Mean `score` per prompt column x guidance setting, one row per grid cell, for a bar plot.

    Cells are grouped by the setting's key, not its label, and each bar is named by its column and
    row ("c1 photo-short · r2"; the legend spells out each row), so two settings that differ only
    in their negative prompt are two bars and no bar name is too long to read.
    """
    cells = frame.groupby(["row", "column", "template_id", "setting_key", "setting"], as_index=False)[score].mean()
    cells["cell"] = ("c" + (cells["column"] + 1).astype(str) + " " + cells["template_id"] + " · r"
                     + (cells["row"] + 1).astype(str))
    return cells
