"""FLUX.1: a CLIP text encoder (pooled) and T5 (sequence), a rectified-flow transformer, a
16-channel VAE. No negative prompt in normal use; schnell is distilled to run without guidance."""

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

T5_TOKENS = 256  # FLUX.1-schnell reads at most 256 T5 tokens (dev: 512); one length serves both


def encode(pipe, text: str) -> Encoded:
    embeds, pooled, _text_ids = pipe.encode_prompt(text, None, device=pipe.device, num_images_per_prompt=1,
                                                   max_sequence_length=T5_TOKENS)
    return {"prompt_embeds": embeds, "pooled_prompt_embeds": pooled}


def text_limit(pipe) -> tuple:
    return pipe.tokenizer_2, T5_TOKENS


def build_tiny(config: dict, folder: Path) -> None:
    from diffusers import FluxPipeline, FluxTransformer2DModel

    FluxPipeline(
        transformer=FluxTransformer2DModel(**config["transformer"]), scheduler=make_scheduler(config),
        vae=tiny_vae(config), text_encoder=build_clip_text(config["text_encoder"]), tokenizer=clip_tokenizer(config["tokenizer"]),
        text_encoder_2=build_t5(config["text_encoder_2"]), tokenizer_2=t5_tokenizer(config["tokenizer_2"]),
    ).save_pretrained(folder)
    save_t5_tokenizer(config['tokenizer_2'], folder / 'tokenizer_2')  # the files the real repo ships


FAMILY = Family(
    name="flux", title="FLUX.1", pipelines=("FluxPipeline",), encode=encode, text_limit=text_limit,
    build_tiny=build_tiny, negative_prompt=False, gpu_dtype="bfloat16", call_options=lambda _pipe: {"max_sequence_length": T5_TOKENS},
)
