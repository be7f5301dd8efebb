"""CLIP guidance: steer each denoising step toward what CLIP reads as the prompt.

Classifier guidance on the model's prediction, as GLIDE and diffusers' community
`clip_guided_stable_diffusion` pipeline do it: before each scheduler step, the model's estimate of
the clean image (x0) is decoded, cut into random crops, embedded by CLIP, and the gradient g of the
spherical distance to the prompt's embedding (times the scale) is taken with respect to x0. The
noise prediction is then shifted so that the scheduler's own x0 estimate moves by -sigma^2 g:
eps' = eps + sigma g (v-prediction: v' = v + sigma sqrt(sigma^2 + 1) g), the same in both kinds
of scheduler sample (sigma-scaled for Euler and LMS, variance-preserving for DDIM, PNDM, DPM++ and
UniPC), so every scheduler takes the step it would take for that prediction and nothing is pushed
after the last step. Per image, the shift is capped at the prediction's own size (RMS), so one
step moves the latents at most a small multiple of what the scheduler moves them itself.

It runs only where the VAE decodes latents scaled by one factor (Stable Diffusion 1/2 and SDXL;
SD3 and FLUX shift and pack theirs, and predict a flow), and on rows of at least
`MIN_STEPS` steps: a one-step turbo row has no step after the guidance to denoise it.

The decoder the gradient goes through may be the model's tiny decoder (TAESD) instead of its VAE:
a cheaper step, with the same maths. Each image's cutouts come from its own generator, and all
cutouts of the batch are embedded by CLIP in one call, so an image is the same whatever batch
it was drawn in.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from ..errors import PlaygroundError
from ..models.clip_model import ClipScorer

MAX_SHIFT = 1.0  # the shift of the prediction, per image, at most this times the prediction's RMS


def spherical_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared great-circle distance between unit vectors (the community pipeline's loss)."""
    x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    return (x - y).norm(dim=-1).div(2).arcsin().pow(2).mul(2)


def noise_sigma(scheduler, timestep) -> float:
    """The current step's noise level sigma = sqrt((1 - alpha_bar) / alpha_bar): the scheduler's
    own sigma where it keeps a schedule of them, else read off its alphas."""
    sigmas = getattr(scheduler, "sigmas", None)
    if sigmas is not None and hasattr(scheduler, "index_for_timestep"):
        index = scheduler.step_index
        if index is None:
            index = scheduler.begin_index if scheduler.begin_index is not None else scheduler.index_for_timestep(timestep)
        return float(sigmas[index])
    alpha = scheduler.alphas_cumprod[int(timestep)]
    return float(((1 - alpha) / alpha).sqrt())


def sigma_scaled(scheduler) -> bool:
    """Whether the scheduler's sample is x0 + sigma eps (Euler, LMS) rather than variance-preserving."""
    return float(scheduler.init_noise_sigma) > 1.0


def clean_estimate(scheduler, output: torch.Tensor, sample: torch.Tensor, sigma: float) -> torch.Tensor:
    """The x0 the scheduler will read off this prediction (epsilon or v), in its own sample space."""
    kind = scheduler.config.prediction_type
    if kind not in ("epsilon", "v_prediction"):
        raise PlaygroundError(f"CLIP guidance steers epsilon- and v-prediction models; this one predicts {kind!r}.")
    if sigma_scaled(scheduler):
        if kind == "epsilon":
            return sample - sigma * output
        return sample / (sigma**2 + 1) - output * sigma / (sigma**2 + 1) ** 0.5
    alpha = 1 / (sigma**2 + 1)  # alpha_bar
    if kind == "epsilon":
        return (sample - (1 - alpha) ** 0.5 * output) / alpha**0.5
    return alpha**0.5 * sample - (1 - alpha) ** 0.5 * output


class ClipGuidance:
    """CLIP guidance for one batch, one prompt per image; `steering(scheduler)` applies it.

    Args:
        scorer: the guiding CLIP (its weights are not changed).
        texts: the prompt each image of the batch is guided toward.
        scale: guidance strength; 100 is the community pipeline's default.
        vae: decodes the clean-image estimate CLIP looks at: the pipeline's VAE, or its tiny
            decoder (an AutoencoderTiny, whose scaling factor is 1) for a cheaper gradient.
        cutouts: random crops per image whose embeddings are averaged (fewer = faster, noisier).
        seed: makes the cutouts, hence the images, reproducible: one seed per image (its own
            crops, so batch mates do not change it), or one for all (the same crops for each).
    """

    def __init__(self, scorer: ClipScorer, texts: Sequence[str], scale: float, vae, cutouts: int = 4,
                 seed: int | Sequence[int] = 0) -> None:
        self.scorer, self.scale, self.vae, self.cutouts = scorer, scale, vae, cutouts
        self.text_embeddings = scorer.embed_texts(list(texts)).to(scorer.device)
        seeds = [seed] * len(texts) if isinstance(seed, int) else list(seed)
        self.generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        config = scorer.model.visual.preprocess_cfg
        self.cut_size = config["size"][0] if isinstance(config["size"], (tuple, list)) else config["size"]
        self.mean = torch.tensor(config["mean"], device=scorer.device).view(1, 3, 1, 1)
        self.std = torch.tensor(config["std"], device=scorer.device).view(1, 3, 1, 1)

    def _cutouts(self, images: torch.Tensor) -> torch.Tensor:
        """`cutouts` random square crops of each image (drawn by its own generator), resized to
        CLIP's input, image-major: one batch for CLIP."""
        side = min(images.shape[-2:])
        crops = []
        for image, generator in zip(images, self.generators):
            for _ in range(self.cutouts):
                size = int(side * float(torch.empty(1).uniform_(0.6, 1.0, generator=generator)))
                top = int(torch.randint(0, images.shape[-2] - size + 1, (1,), generator=generator))
                left = int(torch.randint(0, images.shape[-1] - size + 1, (1,), generator=generator))
                crop = image[None, :, top : top + size, left : left + size]
                crops.append(F.interpolate(crop, size=(self.cut_size, self.cut_size), mode="bilinear",
                                           align_corners=False))
        return torch.cat(crops)

    def gradient(self, latents: torch.Tensor) -> torch.Tensor:
        """d(loss)/d(latents), loss = summed spherical distance of each image's cutouts to its prompt."""
        vae = self.vae
        upcast = latents.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
        if upcast:  # SDXL's VAE overflows in fp16, as the pipeline's own decode knows
            vae.to(torch.float32)
        try:
            return self._gradient(latents.float() if upcast else latents).to(latents.dtype)
        finally:
            if upcast:
                vae.to(torch.float16)

    def _gradient(self, latents: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            x = latents.detach().requires_grad_(True)
            images = self.vae.decode(x / self.vae.config.scaling_factor).sample
            images = (images.float() / 2 + 0.5).clamp(0, 1).to(self.scorer.device)
            pixels = (self._cutouts(images) - self.mean) / self.std
            embeddings = self.scorer.model.encode_image(pixels.to(self.scorer.input_dtype or pixels.dtype)).float()
            targets = self.text_embeddings.repeat_interleave(self.cutouts, dim=0)
            loss = spherical_distance(embeddings, targets).view(-1, self.cutouts).mean(dim=1).sum()
            (grad,) = torch.autograd.grad(loss, x)
        return grad

    def shift(self, scheduler, output: torch.Tensor, timestep, sample: torch.Tensor) -> torch.Tensor:
        """The prediction `output`, shifted so the scheduler's x0 estimate moves down CLIP's gradient."""
        sigma = noise_sigma(scheduler, timestep)
        clean = clean_estimate(scheduler, output, sample, sigma)
        gradient = self.scale * self.gradient(clean)
        factor = sigma if scheduler.config.prediction_type == "epsilon" else sigma * (sigma**2 + 1) ** 0.5
        moved = (factor * gradient).to(output.dtype)
        room = MAX_SHIFT * _rms(output) / _rms(moved).clamp_min(1e-12)
        return output + moved * room.clamp(max=1.0)

    @contextmanager
    def steering(self, scheduler) -> Iterator[None]:
        """Within the block, the row's own scheduler (made for this row, see engine.schedulers)
        shifts each prediction before it steps."""
        step = scheduler.step

        @functools.wraps(step)  # the same signature: the pipeline passes `generator` and `eta` where step takes them
        def guided_step(model_output, timestep, sample, *args, **kwargs):
            return step(self.shift(scheduler, model_output, timestep, sample), timestep, sample, *args, **kwargs)

        scheduler.step = guided_step
        try:
            yield
        finally:
            del scheduler.step  # the class's own step again


def _rms(x: torch.Tensor) -> torch.Tensor:
    """Root mean square per image, shaped to broadcast over the image."""
    return x.float().pow(2).flatten(1).mean(dim=1).sqrt().view(-1, *([1] * (x.dim() - 1)))

