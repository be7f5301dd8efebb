"""The Educators gallery's pictures: each documented confusion drawn once on the running model
from its short prompt, with what CLIP's probe sees in it.

A case's picture and reading are files under PLAYGROUND_HOME/outputs/educators/<model>/, so a
case is drawn once per model (and its revision's cache key, through the image cache) and every
later visit only reads them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..catalog.curated import Confusion, load_curated
from ..catalog.templates import TemplateSet, load_templates
from ..comparison import Comparison
from ..config import get_settings
from ..engine.generate import ProgressFn
from ..files import atomic
from ..judges.base import Context, Judges
from ..models.registry import model_preset
from ..render.export import save_images
from .compare import generate_and_evaluate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Picture:
    """A case's drawn picture and the probe's reading of it ("gravestone 41%, ...")."""

    case: Confusion
    path: Path
    seen: list[dict]  # the probe's top labels: records of label and p

    @property
    def caption(self) -> str:
        return f"{self.case.subject} ({self.case.modality}) · CLIP sees: {self.seen[0]['label'] if self.seen else '?'}"


def folder_of(model_id: str) -> Path:
    """Where a model's case pictures live: a readable, collision-free folder name."""
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in model_id)[-40:]
    return get_settings().outputs_dir / "educators" / f"{slug}-{hashlib.sha256(model_id.encode()).hexdigest()[:8]}"


def drawn(case: Confusion, model_id: str) -> Picture | None:
    """The case's picture on `model_id` when it was drawn before, else None."""
    path = folder_of(model_id) / f"{case.id}.png"
    reading = path.with_suffix(".json")
    if not (path.is_file() and reading.is_file()):
        return None
    seen = json.loads(reading.read_text(encoding="utf-8")).get("seen")
    return Picture(case, path, seen) if isinstance(seen, list) else None  # a reading of an older layout: draw again


def draw(cases: Sequence[Confusion], model_id: str, scorer_id: str, templates: TemplateSet,
         context: Context, progress: ProgressFn | None = None) -> Iterator[Picture]:
    """Each case's picture, drawing those not drawn before (short prompt, the model's first
    recommended row, seed 0), one at a time so a gallery can fill as they come."""
    judges = Judges(scorer_id, domain_scorer_id=None, finding=False)
    for case in cases:
        picture = drawn(case, model_id)
        if picture is None:
            column = templates.for_modality(case.modality, "short").column(case.subject)
            comparison = Comparison(case.subject, [column], [model_preset(model_id).settings[0]], images_per_cell=1,
                                    model_id=model_id, guidance_scorer_id=scorer_id)
            result = generate_and_evaluate(comparison, judges, context, progress)
            folder = folder_of(model_id)
            path = save_images(result.frame, result.images, folder, f"{case.id}-")[0].rename(folder / f"{case.id}.png")
            with atomic(path.with_suffix(".json")) as tmp:
                tmp.write_text(json.dumps({"seen": list(result.frame["probe_top3"].iloc[0])}), encoding="utf-8")
            picture = Picture(case, path, list(result.frame["probe_top3"].iloc[0]))
        yield picture


def draw_in_background(model_id: str, scorer_id: str, offline: bool) -> threading.Thread | None:
    """With PLAYGROUND_DRAW_CASES=1, draw the cases not drawn yet while the app starts, so the
    Educators tab's first visitor finds them on disk; progress and failures go to the log (the
    tab draws whatever is still missing, and skips a case drawn meanwhile)."""
    if not get_settings().draw_cases:
        return None
    curated = load_curated()
    cases, context = curated.confusions, Context(curated, offline)

    def work() -> None:
        try:
            for number, picture in enumerate(draw(cases, model_id, scorer_id, load_templates(), context), start=1):
                logger.info("Educators: %d of %d cases drawn on %s (%s).", number, len(cases), model_id, picture.case.id)
        except Exception as exc:  # the tab will draw them and say what is wrong
            logger.warning("Could not draw the Educators cases on %s: %s", model_id, exc)

    thread = threading.Thread(target=work, name="draw-cases", daemon=True)
    thread.start()
    return thread
