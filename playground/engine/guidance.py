"""CLIP guidance: nudge the latents at every denoising step toward what CLIP reads as the prompt.

After diffusers' community `clip_guided_stable_diffusion` pipeline: decode the current latents,
take random cutouts of the image, embed them with CLIP, and follow the gradient of the spherical
distance between those embeddings and the prompt's embedding back to the latents. Here it runs as
a `callback_on_step_end`, so it works with any Stable-Diffusion-family pipeline and scheduler that
diffusers provides, and with either CLIP scorer, for the families whose VAE decodes latents
scaled by one factor (Stable Diffusion 1/2 and SDXL; SD3 and FLUX shift and pack theirs). The step
is scaled by sigma^2 of the current noise level, as the community pipeline does for sigma-based
schedulers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..models.clip_model import ClipScorer

StepCallback = Callable[[object, int, object, dict], dict]


def spherical_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared great-circle distance between unit vectors (the community pipeline's loss)."""
    x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    return (x - y).norm(dim=-1).div(2).arcsin().pow(2).mul(2)


def noise_sigma(scheduler, step: int, timestep) -> float:
    """The noise level of the current step: the scheduler's sigma, else derived from alphas."""
    sigmas = getattr(scheduler, "sigmas", None)
    if sigmas is not None and step < len(sigmas):
        return float(sigmas[step])
    alpha = scheduler.alphas_cumprod[int(timestep)]
    return float(((1 - alpha) / alpha).sqrt())


class ClipGuidance:
    """A `callback_on_step_end` applying CLIP guidance to a batch, one prompt per image.

    Args:
        scorer: the guiding CLIP (its weights are not changed).
        texts: the prompt each image of the batch is guided toward.
        scale: guidance strength; 100 is the community pipeline's default.
        cutouts: random crops per image whose embeddings are averaged (fewer = faster, noisier).
        seed: makes the cutouts, hence the images, reproducible.
        then: another step callback to run afterwards (progress reporting).
    """

    def __init__(self, scorer: ClipScorer, texts: Sequence[str], scale: float, cutouts: int = 4, seed: int = 0,
                 then: StepCallback | None = None) -> None:
        self.scorer, self.scale, self.cutouts, self.then = scorer, scale, cutouts, then
        self.text_embeddings = scorer.embed_texts(list(texts)).to(scorer.device)
        self.generator = torch.Generator("cpu").manual_seed(seed)
        config = scorer.model.visual.preprocess_cfg
        self.cut_size = config["size"][0] if isinstance(config["size"], (tuple, list)) else config["size"]
        self.mean = torch.tensor(config["mean"], device=scorer.device).view(1, 3, 1, 1)
        self.std = torch.tensor(config["std"], device=scorer.device).view(1, 3, 1, 1)

    def _cutouts(self, images: torch.Tensor) -> torch.Tensor:
        """`cutouts` random square crops of each image, resized to CLIP's input, image-major."""
        side = min(images.shape[-2:])
        crops = []
        for _ in range(self.cutouts):
            size = int(side * float(torch.empty(1).uniform_(0.6, 1.0, generator=self.generator)))
            top = int(torch.randint(0, images.shape[-2] - size + 1, (1,), generator=self.generator))
            left = int(torch.randint(0, images.shape[-1] - size + 1, (1,), generator=self.generator))
            crop = images[:, :, top : top + size, left : left + size]
            crops.append(F.interpolate(crop, size=(self.cut_size, self.cut_size), mode="bilinear", align_corners=False))
        return torch.stack(crops, dim=1).flatten(0, 1)

    def gradient(self, vae, latents: torch.Tensor) -> torch.Tensor:
        """d(loss)/d(latents), loss = summed spherical distance of each image's cutouts to its prompt."""
        upcast = latents.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
        if upcast:  # SDXL's VAE overflows in fp16, as the pipeline's own decode knows
            vae.to(torch.float32)
        try:
            return self._gradient(vae, latents.float() if upcast else latents).to(latents.dtype)
        finally:
            if upcast:
                vae.to(torch.float16)

    def _gradient(self, vae, latents: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            x = latents.detach().requires_grad_(True)
            images = vae.decode(x / vae.config.scaling_factor).sample
            images = (images.float() / 2 + 0.5).clamp(0, 1).to(self.scorer.device)
            pixels = (self._cutouts(images) - self.mean) / self.std
            embeddings = self.scorer.model.encode_image(pixels.to(self.scorer.input_dtype or pixels.dtype)).float()
            targets = self.text_embeddings.repeat_interleave(self.cutouts, dim=0)
            loss = spherical_distance(embeddings, targets).view(-1, self.cutouts).mean(dim=1).sum()
            (grad,) = torch.autograd.grad(loss, x)
        return grad

    def __call__(self, pipe, step: int, timestep, callback_kwargs: dict) -> dict:
        latents = callback_kwargs["latents"]
        sigma = noise_sigma(pipe.scheduler, step, timestep)
        grad = self.gradient(pipe.vae, latents)
        callback_kwargs["latents"] = (latents - self.scale * sigma**2 * grad.to(latents.dtype)).detach()
        return self.then(pipe, step, timestep, callback_kwargs) if self.then else callback_kwargs
