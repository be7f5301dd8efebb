"""What a request will cost, before it runs: the seconds to ask ZeroGPU for, and the estimate the
Compare tab shows under Generate. One module, computed from the request and from how fast each
model drew here before (engine.throughput), else from the registry's `step_seconds`.

A request's seconds are: moving each model onto the GPU, every image-step at its model's speed
(CLIP-guided steps also decode, embed and back-propagate), and every judge's time per image
(prompt_library/judges.yaml).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..catalog.judges import load_judge_cards
from ..comparison import Comparison
from ..engine import throughput
from ..judges.base import Judges
from ..models import registry
from ..models.loading import pick_device
from ..types import GuidanceSetting

LOAD_SECONDS = 20  # per model: moving its weights onto the GPU (ZeroGPU attaches one per request)
CLIP_GUIDANCE_COST = 4  # a CLIP-guided step against a plain one, before it was measured here
OVERHEAD_SECONDS = 10  # starting the worker, saving, the rest


def step_seconds(model_id: str, width: int | None, height: int | None, guided: bool = False) -> float:
    """Seconds per image-step of `model_id` at width x height on this device: measured here, else
    the registry's `step_seconds` scaled by pixels (x CLIP_GUIDANCE_COST when guided)."""
    card = registry.card(model_id)
    width, height = width or (card.width if card else 512), height or (card.height if card else 512)
    measured = throughput.step_seconds(model_id, pick_device()[0].type, guided, width * height)
    if measured is not None:
        return measured
    base = card.step_seconds * width * height / (card.width * card.height) if card else registry.DEFAULT_STEP_SECONDS
    return base * (CLIP_GUIDANCE_COST if guided else 1)


def drawing(model_id: str, setting: GuidanceSetting, images: int, width: int | None = None,
            height: int | None = None, steps: float | None = None) -> float:
    """Seconds to draw `images` images of one row (`steps` each, default the setting's)."""
    steps = setting.steps if steps is None else steps
    return images * steps * step_seconds(model_id, width, height, bool(setting.clip_guidance_scale))


def judging(images: int, judges: Judges) -> float:
    """Seconds every judge of the panel takes for `images` images."""
    cards = load_judge_cards().cards
    return images * sum(cards[j.id].gpu_seconds_per_image for j in judges.judges if j.id in cards)


def compare(comparison: Comparison, judges: Judges) -> int:
    """A whole grid: each model loaded, each row drawn, every image judged."""
    per_row = len(comparison.columns) * comparison.images_per_cell
    drawn = sum(drawing(m, s, per_row, comparison.width, comparison.height) for m, s in comparison.rows)
    return _seconds(len(comparison.models), drawn + judging(comparison.n_images, judges))


def cell(comparison: Comparison, row: int, judges: Judges) -> int:
    """One cell of a grid redrawn: its row's model and setting, its seeds."""
    model_id, setting = comparison.rows[row]
    images = comparison.images_per_cell
    return _seconds(1, drawing(model_id, setting, images, comparison.width, comparison.height) + judging(images, judges))


def refine(model_id: str, setting: GuidanceSetting, rounds: int, candidates: int, strength: float,
           judges: Judges) -> int:
    """Refinement: each round's candidates drawn by image-to-image at `strength`, then judged."""
    images = rounds * candidates
    steps = max(setting.steps, math.ceil(1 / strength)) * strength
    return _seconds(1, drawing(model_id, setting, images, steps=steps) + judging(images + 1, judges))


def search(model_id: str, setting: GuidanceSetting, budget: int, held_out: int, judges: Judges) -> int:
    """A prompt search: `budget` images on the search seeds, then start and best on held-out seeds."""
    images = budget + 2 * held_out
    return _seconds(1, drawing(model_id, setting, images) + judging(images, judges))


def pictures(model_ids: Sequence[str], settings: Sequence[GuidanceSetting], images: int,
             judges: Judges | None = None) -> int:
    """Single pictures (the Arena's pair, the Educators' cases): `images` on each model's row,
    judged by `judges` if any."""
    drawn = sum(drawing(m, s, images) for m, s in zip(model_ids, settings))
    judged = judging(images * len(model_ids), judges) if judges else 0.0
    return _seconds(len(set(model_ids)), drawn + judged)


def _seconds(models: int, work: float) -> int:
    return math.ceil(OVERHEAD_SECONDS + LOAD_SECONDS * models + work)
