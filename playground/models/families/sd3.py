"""Stable Diffusion 3 / 3.5: two CLIP text encoders and T5 (all three read each prompt), an
MMDiT transformer, a 16-channel VAE, flow matching."""

from __future__ import annotations

from pathlib import Path

from . import Encoded, Family
from ._parts import (
    build_clip_text,
    build_t5,
    clip_tokenizer,
    make_scheduler,
    save_t5_tokenizer,
    t5_tokenizer,
    tiny_vae,
)

T5_TOKENS = 256  # the pipeline's default max_sequence_length


def encode(pipe, text: str) -> Encoded:
    embeds, _, pooled, _ = pipe.encode_prompt(text, None, None, device=pipe.device, num_images_per_prompt=1,
                                              do_classifier_free_guidance=False, max_sequence_length=T5_TOKENS)
    return {"prompt_embeds": embeds, "pooled_prompt_embeds": pooled}


def text_limit(pipe) -> tuple:
    if getattr(pipe, "tokenizer_3", None) is not None:
        return pipe.tokenizer_3, T5_TOKENS
    return pipe.tokenizer, pipe.tokenizer.model_max_length


def build_tiny(config: dict, folder: Path) -> None:
    from diffusers import SD3Transformer2DModel, StableDiffusion3Pipeline

    StableDiffusion3Pipeline(
        transformer=SD3Transformer2DModel(**config["transformer"]), scheduler=make_scheduler(config),
        vae=tiny_vae(config), text_encoder=build_clip_text(config["text_encoder"], with_projection=True),
        tokenizer=clip_tokenizer(config["tokenizer"]), text_encoder_2=build_clip_text(config["text_encoder_2"], with_projection=True),
        tokenizer_2=clip_tokenizer(config["tokenizer_2"]), text_encoder_3=build_t5(config["text_encoder_3"]),
        tokenizer_3=t5_tokenizer(config["tokenizer_3"]),
    ).save_pretrained(folder)
    save_t5_tokenizer(config['tokenizer_3'], folder / 'tokenizer_3')  # the files the real repo ships


FAMILY = Family(
    name="sd3", title="Stable Diffusion 3", pipelines=("StableDiffusion3Pipeline",), encode=encode,
    text_limit=text_limit, build_tiny=build_tiny, gpu_dtype="bfloat16",
)
