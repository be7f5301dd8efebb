"""Stable Diffusion 1.x and 2.x: one CLIP text encoder, a UNet, a 4-channel VAE."""

from __future__ import annotations

from pathlib import Path

from . import Encoded, Family
from ._parts import build_clip_text, clip_tokenizer, make_scheduler, tiny_unet, tiny_vae


def encode(pipe, text: str) -> Encoded:
    embeds, _ = pipe.encode_prompt(text, pipe.device, num_images_per_prompt=1, do_classifier_free_guidance=False)
    return {"prompt_embeds": embeds}


def text_limit(pipe) -> tuple:
    return pipe.tokenizer, pipe.tokenizer.model_max_length


def build_tiny(config: dict, folder: Path) -> None:
    from diffusers import StableDiffusionPipeline

    StableDiffusionPipeline(
        vae=tiny_vae(config), text_encoder=build_clip_text(config["text_encoder"]), tokenizer=clip_tokenizer(),
        unet=tiny_unet(config), scheduler=make_scheduler(config), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    ).save_pretrained(folder)


FAMILY = Family(
    name="sd", title="Stable Diffusion 1/2", pipelines=("StableDiffusionPipeline",), encode=encode,
    text_limit=text_limit, build_tiny=build_tiny, clip_guidance=True,
)
