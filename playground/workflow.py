"""The Compare workflow as one call: generate, score, mark the best, save PNGs and a ZIP.

The Gradio tab, the benchmark's app path and a notebook all call `compare_to_folder`, so what the
UI shows is exactly what the library API returns.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from PIL import Image

from .config import get_settings
from .export import save_images, write_zip
from .criteria import add_criteria, best_of_n
from .curated import Curated, load_curated
from .generate import Comparison, ComparisonResult, ProgressFn, run
from .models import load_scorer
from .probe import probe
from .scoring import add_clip_scores


@dataclass
class SavedComparison:
    """An evaluated comparison on disk (see `evaluate`); `frame` also gains `image_path`."""

    frame: pd.DataFrame
    images: list[Image.Image]
    folder: Path
    zip_path: Path


def new_run_folder(root: Path | None = None) -> Path:
    """A fresh folder under the outputs folder, named by UTC time and a random suffix."""
    root = root or get_settings().outputs_dir
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = root / f"{stamp}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    return folder


def best_in_row(frame: pd.DataFrame, score: str = "clip_prompt") -> pd.Series:
    """True for the image with the highest `score` in each grid row (first one on ties); images
    without a score (not real images) are never best."""
    best = frame.dropna(subset=[score]).groupby("row")[score].idxmax()
    return frame.index.isin(best.values)


def mean_scores(frame: pd.DataFrame, score: str = "clip_prompt") -> pd.DataFrame:
    """Mean `score` per template column x guidance setting, one row per grid cell, for a plot."""
    cells = frame.groupby(["row", "column", "template_id", "setting"], as_index=False)[score].mean()
    cells["cell"] = "c" + (cells["column"] + 1).astype(str) + " " + cells["template_id"] + " | " + cells["setting"]
    return cells


def evaluate(
    result: ComparisonResult, scorer_id: str, medical_scorer_id: str | None = None, curated: Curated | None = None
) -> pd.DataFrame:
    """The result's frame with every score: CLIP (`clip_*`), the medical CLIP (`medclip_*`) when
    chosen, the criteria checklist, best of N per cell, best per row, and the confusion probe.
    An output that is not a real image (see generate.image_problem) keeps no score."""
    curated = curated or load_curated()
    scorer = load_scorer(scorer_id)
    embeddings = scorer.embed_images(result.images)
    result = add_clip_scores(result, scorer, image_embeddings=embeddings)
    if medical_scorer_id:
        result = add_clip_scores(result, load_scorer(medical_scorer_id), prefix="medclip")
    frame = add_criteria(result.frame, embeddings, scorer, curated)
    frame["probe_top3"] = probe(embeddings, list(frame["subject"]), scorer, curated)
    not_images = frame["image_problem"] != ""
    frame.loc[not_images, [c for c in frame.columns if c.endswith(("_prompt", "_subject")) and c != "negative_prompt"]
              + ["criteria_score"]] = float("nan")
    frame.loc[not_images, ["criteria_passed", "criteria", "probe_top3"]] = ""
    frame["best_of_n"] = best_of_n(frame)
    frame["best_in_row"] = best_in_row(frame)
    return frame


def compare_to_folder(
    comparison: Comparison, scorer_id: str, folder: Path | None = None, progress: ProgressFn | None = None,
    medical_scorer_id: str | None = None, curated: Curated | None = None,
) -> SavedComparison:
    """Generate and evaluate `comparison`, then save each PNG (with parameters) and a ZIP of all."""
    result = run(comparison, progress)
    frame = evaluate(result, scorer_id, medical_scorer_id, curated)
    folder = folder or new_run_folder()
    paths = save_images(frame, result.images, folder)
    frame["image_path"] = [str(p) for p in paths]
    zip_path = write_zip(frame.drop(columns=["image_path"]), paths, folder / "comparison.zip")
    return SavedComparison(frame, result.images, folder, zip_path)
