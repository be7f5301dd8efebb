"""Generate, judge, save: the one path that the app, `compare()`, the sweep and the benchmark share.

`generate_and_evaluate` runs the engine and every chosen judge; `compare_to_folder` also saves the
PNGs (with their parameters, under one naming scheme), the labelled grid PNG and a ZIP; the
Compare tab streams the same through `stream_to_folder`, batch by batch; a sweep unit saves the
same PNGs into its run folder. What the UI shows is what the API returns.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from PIL import Image

from ..catalog.curated import load_curated
from ..catalog.templates import load_templates
from ..comparison import Comparison, ComparisonResult
from ..config import get_settings
from ..engine import throughput
from ..engine.generate import ProgressFn, joined, run, stream
from ..errors import PlaygroundError
from ..files import trim_soon
from ..judges import base as judging
from ..judges.base import AUTO, Context, Judges
from ..judges.rank import best_in_row, best_of_n
from ..models.loading import pick_device
from ..render import grid_image
from ..render.export import save_images, write_zip
from ..types import GuidanceSetting

GRID_FILE = "grid.png"  # the labelled grid, in the ZIP and on its own


def new_run_folder(root: Path | None = None) -> Path:
    """A fresh folder under the outputs folder, named by UTC time and a random suffix (the oldest
    grids and exports are trimmed first, to keep the folder under PLAYGROUND_OUTPUTS_MB)."""
    root = root or get_settings().outputs_dir
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = root / f"{stamp}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    trim_soon(keep=[folder])
    return folder


def evaluate(result: ComparisonResult, judges: Judges | str, context: Context | None = None) -> ComparisonResult:
    """The result with every chosen judge's columns (see judges.base) and the marks: best of N per
    cell and best per row. An output that is not a real image keeps every judged column blank."""
    judges = Judges.of(judges)
    return rank(judge(result, judges, context or Context(load_curated())), judges)


def judge(result: ComparisonResult, judges: Judges, context: Context) -> ComparisonResult:
    """Every judge's verdict on each image of `result` (no ranking: a streamed chunk is judged
    alone, then the whole grid so far is ranked)."""
    if not result.images:
        return result
    return replace(result, frame=judging.run(judges, result.frame, result.images, context))


def rank(result: ComparisonResult, judges: Judges) -> ComparisonResult:
    """`result` with its marks: best of N per cell and best per row, over every image it holds."""
    frame = result.frame.assign(best_of_n=best_of_n(result.frame, judges.best_by or judges.checklist))
    return replace(result, frame=frame.assign(best_in_row=best_in_row(frame)))


def stream_and_evaluate(
    comparison: Comparison, judges: Judges | str, context: Context | None = None, progress: ProgressFn | None = None,
    cached_only: bool = False,
) -> Iterator[ComparisonResult]:
    """Generate `comparison` batch by batch, judging each batch as it comes; yields the whole
    grid so far (judged, ranked, in grid order) after every batch. With `cached_only`, only the
    images in the image cache (nothing is drawn)."""
    judges, context = Judges.of(judges), context or Context(load_curated())
    chunks: list[ComparisonResult] = []
    for chunk in stream(comparison, progress, cached_only):
        chunks.append(judge(chunk, judges, context))
        yield rank(joined(chunks), judges)


def generate_and_evaluate(
    comparison: Comparison, judges: Judges | str, context: Context | None = None, progress: ProgressFn | None = None,
) -> ComparisonResult:
    """Generate `comparison`, then judge every image (see `evaluate`)."""
    return evaluate(run(comparison, progress), judges, context)


def stream_to_folder(
    comparison: Comparison, judges: Judges | str, folder: Path | None = None, progress: ProgressFn | None = None,
    context: Context | None = None, cached_only: bool = False,
) -> Iterator[ComparisonResult]:
    """`stream_and_evaluate`, saving as it goes: after every batch the new PNGs (with their
    parameters), the labelled grid PNG and the ZIP are on disk, so a Stop (or a crash) keeps
    everything done so far. Each result yielded has `image_path`, `folder` and `zip_path`."""
    folder = folder or new_run_folder()
    saved: dict[tuple[int, int, int], Path] = {}
    began = last = time.perf_counter()
    warm = (Judges.of(judges).key, tuple(comparison.models))
    for result in stream_and_evaluate(comparison, judges, context, progress, cached_only):
        before = set(saved)
        result = save_result(result, folder, saved)
        now = time.perf_counter()
        if last > began or warm in _warm:  # a first batch that loaded the models is no measure of the rest
            _record_rest(result.frame, before, Judges.of(judges), now - last)
        _warm.add(warm)
        last = now
        yield replace(result, seconds=now - began)


_warm: set[tuple[str, tuple[str, ...]]] = set()  # (judges, models) this process has drawn a batch with: loaded


def _record_rest(frame: pd.DataFrame, before: set, judges: Judges, seconds: float) -> None:
    """What a batch cost besides denoising, per image (its interval less its images' drawing
    seconds): what the cost estimate adds per image (engine.throughput)."""
    new = [key not in before for key in zip(frame["row"], frame["column"], frame["seed"])]
    drawing = float(frame.loc[new, "seconds"].sum())
    throughput.record_rest(judges.key, pick_device()[0].type, sum(new), seconds - drawing)


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
    context: Context | None = None, progress: ProgressFn | None = None,
) -> Iterator[ComparisonResult]:
    """Redraw one cell of a saved grid with new seeds, streaming: the grid with that cell's
    images replaced, saved into the grid's folder after every batch.

    Seed policy: the cell's new seeds follow the highest seed anywhere in the grid, so no seed
    repeats and each new image gets a PNG name of its own.
    """
    if not (0 <= row < len(comparison.rows) and 0 <= column < len(comparison.columns)):
        raise PlaygroundError(f"The grid has no cell at row {row + 1}, column {column + 1}.")
    model_id, setting = comparison.rows[row]
    cell = replace(comparison, columns=[comparison.columns[column]], settings=[setting], model_id=model_id,
                   base_seed=int(result.frame["seed"].max()) + 1)
    keep = ~((result.frame["row"] == row) & (result.frame["column"] == column))
    yield from _redraw(result, keep, cell, row, column, Judges.of(judges), context, progress)


def decode_in_full(
    comparison: Comparison, result: ComparisonResult, image: int, judges: Judges | str,
    context: Context | None = None, progress: ProgressFn | None = None,
) -> Iterator[ComparisonResult]:
    """Draft number `image` (its position in the grid's frame, from 0) drawn again with its
    model's VAE, judged, and saved over the draft: the same model, setting, prompt and seed give
    the same latents (engine.decoders), so the full image is the one the draft previewed."""
    picked = result.frame.iloc[image]
    if picked.get("decoder") != "fast":
        raise PlaygroundError(f"Image #{image + 1} is decoded in full already; only drafts (fast decoder) need it.")
    keep = pd.Series([i != image for i in range(len(result.frame))], index=result.frame.index)
    yield from _redraw(result, keep, comparison.full_decode_of(picked), int(picked["row"]), int(picked["column"]),
                       Judges.of(judges), context, progress)


def _redraw(
    result: ComparisonResult, keep: pd.Series, redraw: Comparison, row: int, column: int, judges: Judges,
    context: Context | None, progress: ProgressFn | None,
) -> Iterator[ComparisonResult]:
    """The saved grid with the images outside `keep` replaced by `redraw`'s (placed at grid
    `row`, `column`), saved after every batch; the kept images' files stay as they are."""
    kept = ComparisonResult(result.frame[keep].drop(columns=["image_path"], errors="ignore"),
                            [image for image, k in zip(result.images, keep) if k])
    saved = {(r, c, s): Path(p) for r, c, s, p in result.frame[keep][["row", "column", "seed", "image_path"]].itertuples(index=False)}
    for new in stream_and_evaluate(redraw, judges, context, progress):
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
    context: Context | None = None,
) -> ComparisonResult:
    """Generate and evaluate `comparison`, then save each PNG (with parameters), the labelled
    grid PNG and a ZIP of all; the frame gains `image_path`."""
    result = generate_and_evaluate(comparison, judges, context, progress)
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
    vlm_id: str | None = None,
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
        vlm_id: the checklist judge, a vision-language model answering each checklist question
            (P(yes)), e.g. "HuggingFaceTB/SmolVLM2-2.2B-Instruct" or "tiny-offline-vlm"; None:
            CLIP's checklist only.
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
    judges = Judges(scorer_id or config.scorer, medical_scorer_id, domain_scorer_id, vlm_id)
    comparison = Comparison.from_templates(
        subject, template_ids, load_templates(), settings=settings, images_per_cell=images_per_cell,
        model_id=model_id or config.model, guidance_scorer_id=judges.scorer_id, **kwargs,
    )
    if save or folder:
        return compare_to_folder(comparison, judges, folder, progress)
    return generate_and_evaluate(comparison, judges, progress=progress)
