"""Live previews: the images of a long row forming, as AUTOMATIC1111 and ComfyUI show them.

Every EVERY denoising steps of a row of at least MIN_STEPS steps, the batch's current latents are
decoded by the model's tiny decoder (TAESD: milliseconds, against the VAE's seconds) into small
images, and handed to the progress callback's `preview` method, when it has one (ui/gpu_task's
has: the previews cross to the page as values and fill the grid's pending cells). A callback
without it, a model without a tiny decoder, a tiny decoder that cannot be loaded now (offline and
not in the Hub cache), or latents the tiny decoder does not take (FLUX packs its latents into a
sequence) simply get none: a preview never changes an image or stops a grid.

What is decoded is the sample itself, brought to unit scale (sigma-scaled samplers carry it at
sqrt(sigma^2 + 1)): noise at first, the image emerging as the steps go (AUTOMATIC1111 and ComfyUI
decode the model's clean-image estimate instead, which the step-end callback does not carry).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from ..errors import PlaygroundError
from ..models import registry as model_registry
from ..models.tiny_decoder import load_tiny_decoder
from .guidance import noise_sigma, sigma_scaled
from .progress import ProgressFn

MIN_STEPS = 8  # a shorter row is done before a preview would help
EVERY = 4  # steps between two previews of a batch
SIDE = 128  # pixels: a preview fills a grid thumbnail, no more

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preview:
    """One image of the batch being denoised, at `step` of `steps`, at grid `row`, `column` (from
    0) and `seed`; `image` is small (SIDE pixels at most)."""

    row: int
    column: int
    seed: int
    step: int
    steps: int
    image: Image.Image


def previewer(progress: ProgressFn | None, model_id: str, pipe, scheduler, cells: Sequence[tuple[int, int, int]],
              steps: int) -> Callable[[int, object, torch.Tensor], None] | None:
    """A per-step hook `(step, timestep, latents)` sending previews of `cells` ((row, column, seed)
    of each image of the batch) to `progress.preview`, or None when there is nothing to preview."""
    show = getattr(progress, "preview", None)
    if show is None or steps < MIN_STEPS or not model_registry.has_tiny_decoder(model_id):
        return None
    try:
        tiny = load_tiny_decoder(model_id, pipe).vae
    except (PlaygroundError, OSError) as exc:  # e.g. HF_HUB_OFFLINE and TAESD never downloaded
        logger.warning("No live previews for %s: %s", model_id, exc)
        return None

    def on_step(step: int, timestep, latents: torch.Tensor) -> None:
        done = step + 1
        if done % EVERY or done >= steps or latents.ndim != 4 or latents.shape[1] != tiny.config.latent_channels:
            return
        scale = (noise_sigma(scheduler, timestep) ** 2 + 1) ** 0.5 if sigma_scaled(scheduler) else 1.0
        show([Preview(row, column, seed, done, steps, image)
              for (row, column, seed), image in zip(cells, _decode(tiny, latents / scale))])

    return on_step


@torch.no_grad()
def _decode(tiny, latents: torch.Tensor) -> list[Image.Image]:
    pixels = tiny.decode(latents.to(tiny.dtype)).sample.float().clamp(-1, 1).add(1).mul(127.5)
    images = [Image.fromarray(p.permute(1, 2, 0).round().byte().cpu().numpy()) for p in pixels]
    for image in images:
        image.thumbnail((SIDE, SIDE))
    return images
