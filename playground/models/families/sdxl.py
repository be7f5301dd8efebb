"""Stable Diffusion XL: two CLIP text encoders (hidden states concatenated, pooled output of the
second), a UNet with size conditioning, a VAE that decodes in fp32 where fp16 overflows."""

from __future__ import annotations

from pathlib import Path

from . import Encoded, Family
from ._parts import build_clip_text, clip_tokenizer, make_scheduler, tiny_unet, tiny_vae


def encode(pipe, text: str) -> Encoded:
    embeds, _, pooled, _ = pipe.encode_prompt(text, device=pipe.device, num_images_per_prompt=1,
                                              do_classifier_free_guidance=False)
    return {"prompt_embeds": embeds, "pooled_prompt_embeds": pooled}


def zero_empty_negative(pipe) -> bool:
    """SDXL base is trained with zeros, not the encoding of "", as the empty negative prompt."""
    return bool(pipe.config.force_zeros_for_empty_prompt)


def text_limit(pipe) -> tuple:
    return pipe.tokenizer, pipe.tokenizer.model_max_length


def build_tiny(config: dict, folder: Path) -> None:
    from diffusers import StableDiffusionXLPipeline

    StableDiffusionXLPipeline(
        vae=tiny_vae(config), text_encoder=build_clip_text(config["text_encoder"]),
        text_encoder_2=build_clip_text(config["text_encoder_2"], with_projection=True),
        tokenizer=clip_tokenizer(config["tokenizer"]), tokenizer_2=clip_tokenizer(config["tokenizer_2"]), unet=tiny_unet(config),
        scheduler=make_scheduler(config), force_zeros_for_empty_prompt=config["force_zeros_for_empty_prompt"],
        add_watermarker=False,
    ).save_pretrained(folder)


FAMILY = Family(
    name="sdxl", title="Stable Diffusion XL", pipelines=("StableDiffusionXLPipeline",), encode=encode,
    text_limit=text_limit, build_tiny=build_tiny, clip_guidance=True, zero_empty_negative=zero_empty_negative,
)
