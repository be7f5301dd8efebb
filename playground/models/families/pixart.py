"""PixArt-Σ: a T5 text encoder with an attention mask, a diffusion transformer, SD's VAE."""

from __future__ import annotations

from pathlib import Path

from . import Encoded, Family
from ._parts import build_t5, make_scheduler, save_t5_tokenizer, t5_tokenizer, tiny_vae

T5_TOKENS = 300  # the pipeline's default max_sequence_length
BINNED_SIDES = (256, 512, 1024, 2048)  # sides of the trained checkpoints' aspect-ratio bins


def encode(pipe, text: str) -> Encoded:
    embeds, mask, _, _ = pipe.encode_prompt(text, do_classifier_free_guidance=False, device=pipe.device,
                                            clean_caption=True, max_sequence_length=T5_TOKENS)
    return {"prompt_embeds": embeds, "prompt_attention_mask": mask}


def text_limit(pipe) -> tuple:
    return pipe.tokenizer, T5_TOKENS


def step_callback(callback) -> dict:
    """PixArt still takes diffusers' older per-step `callback(step, timestep, latents)`."""
    return {"callback": lambda step, timestep, latents: callback(None, step, timestep, {"latents": latents}),
            "callback_steps": 1}


def call_options(pipe) -> dict:
    """Resolution binning (drawing at the nearest trained aspect ratio, then resizing) only where
    the transformer was trained at a binned size (a tiny offline one is not). The negative
    prompt's text default ("") is cleared, as its embeddings are passed."""
    side = pipe.transformer.config.sample_size * pipe.vae_scale_factor
    return {"use_resolution_binning": side in BINNED_SIDES, "negative_prompt": None}


def build_tiny(config: dict, folder: Path) -> None:
    from diffusers import PixArtSigmaPipeline, PixArtTransformer2DModel

    PixArtSigmaPipeline(
        tokenizer=t5_tokenizer(config["tokenizer"]), text_encoder=build_t5(config["text_encoder"]), vae=tiny_vae(config),
        transformer=PixArtTransformer2DModel(**config["transformer"]), scheduler=make_scheduler(config),
    ).save_pretrained(folder)
    save_t5_tokenizer(config['tokenizer'], folder / 'tokenizer')  # the files the real repo ships


FAMILY = Family(
    name="pixart", title="PixArt-Σ", pipelines=("PixArtSigmaPipeline",), encode=encode, text_limit=text_limit,
    build_tiny=build_tiny, step_callback=step_callback, call_options=call_options,
    image_to_image=False,  # diffusers has no image-to-image pipeline for it
)
