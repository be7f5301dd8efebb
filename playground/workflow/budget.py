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
from dataclasses import dataclass

from ..catalog.judges import load_judge_cards
from ..comparison import Comparison
from ..config import get_settings
from ..engine import throughput
from ..errors import PlaygroundError
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
    pixels = _pixels(model_id, width, height)
    measured = throughput.step_seconds(model_id, pick_device()[0].type, guided, pixels)
    if measured is not None:
        return measured
    base = card.step_seconds * pixels / (card.width * card.height) if card else registry.DEFAULT_STEP_SECONDS
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


@dataclass(frozen=True)
class Estimate:
    """What a grid will cost, said before it runs: its images and denoising steps, the seconds it
    should take on this device once its models are loaded, whether those come from this app's
    own measurements (else the registry's `step_seconds` and judges.yaml), and the seconds a
    ZeroGPU request for it asks for."""

    images: int
    image_steps: int
    seconds: float
    measured: bool
    zerogpu_seconds: int


def estimate(comparison: Comparison, judges: Judges) -> Estimate:
    """The cost of `comparison` judged by `judges`: each row's images at its model's measured
    speed, plus the time per image this panel took besides denoising on earlier requests."""
    device = pick_device()[0].type
    per_row = len(comparison.columns) * comparison.images_per_cell
    drawn = sum(drawing(m, s, per_row, comparison.width, comparison.height) for m, s in comparison.rows)
    rest = throughput.rest_seconds(judges.key, device)
    judged = judging(comparison.n_images, judges) if rest is None else rest * comparison.n_images
    measured = rest is not None and all(
        _measured(m, comparison.width, comparison.height, bool(s.clip_guidance_scale)) for m, s in comparison.rows)
    return Estimate(comparison.n_images, sum(per_row * s.steps for _, s in comparison.rows), drawn + judged, measured,
                    compare(comparison, judges))


def _pixels(model_id: str, width: int | None, height: int | None) -> int:
    """Pixels per image: the request's size, else the model's native one (512 x 512 for a model not registered)."""
    card = registry.card(model_id)
    return (width or (card.width if card else 512)) * (height or (card.height if card else 512))


def _measured(model_id: str, width: int | None, height: int | None, guided: bool) -> bool:
    return throughput.step_seconds(model_id, pick_device()[0].type, guided, _pixels(model_id, width, height)) is not None


def compare(comparison: Comparison, judges: Judges) -> int:
    """A whole grid: each model loaded, each row drawn, every image judged."""
    per_row = len(comparison.columns) * comparison.images_per_cell
    drawn = sum(drawing(m, s, per_row, comparison.width, comparison.height) for m, s in comparison.rows)
    return _seconds(len(comparison.models), drawn + judging(comparison.n_images, judges))


def from_cache(comparison: Comparison, judges: Judges) -> int:
    """A grid shown from the image cache: each model loaded (for its images' keys), every image judged."""
    return _seconds(len(comparison.models), judging(comparison.n_images, judges))


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


def check_duration(seconds: float) -> None:
    """Refuse, before it runs, a ZeroGPU call longer than ZeroGPU grants (PLAYGROUND_ZEROGPU_MAX_SECONDS)."""
    longest = get_settings().zerogpu_max_s
    if seconds > longest:
        raise PlaygroundError(
            f"This request would ask ZeroGPU for about {math.ceil(seconds)} s of GPU time; one call may ask for at most "
            f"{longest} s. Draw fewer images, steps or models at once, or run the grid as a sweep on a machine of your "
            "own: `playground sweep STUDY.yaml --out runs/NAME` (see the README's Research mode)."
        )


def _seconds(models: int, work: float) -> int:
    return math.ceil(OVERHEAD_SECONDS + LOAD_SECONDS * models + work)
