"""Sana: a Gemma-2 decoder reads the caption (after a long default "complex human instruction"
that the prompt, not the negative prompt, is prefixed with), a linear-attention transformer, a
32x deep-compression autoencoder that must not run in fp16, flow matching."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from pathlib import Path

from . import Encoded, Family
from ._parts import clip_bpe_vocab, make_scheduler

TOKENS = 300  # the pipeline's default max_sequence_length
BINNED_SIDES = (512, 1024, 2048, 4096)  # sides of the trained checkpoints' aspect-ratio bins
GEMMA_SPECIAL = ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>")  # ids 0..4, as in Gemma
WORD_START = "\u2581"


def _instruction(pipe) -> list[str]:
    """What `__call__` prefixes every prompt with unless told otherwise."""
    return inspect.signature(type(pipe).__call__).parameters["complex_human_instruction"].default


def encode(pipe, text: str) -> Encoded:
    embeds, mask, _, _ = pipe.encode_prompt(text, do_classifier_free_guidance=False, device=pipe.device,
                                            complex_human_instruction=_instruction(pipe), max_sequence_length=TOKENS)
    return {"prompt_embeds": embeds, "prompt_attention_mask": mask}


def encode_negative(pipe, text: str) -> Encoded:
    """A negative prompt is read bare, without the instruction."""
    embeds, mask, _, _ = pipe.encode_prompt(text, do_classifier_free_guidance=False, device=pipe.device,
                                            max_sequence_length=TOKENS)
    return {"prompt_embeds": embeds, "prompt_attention_mask": mask}


def text_limit(pipe) -> tuple:
    return pipe.tokenizer, TOKENS


def call_options(pipe) -> dict:
    """Binning (drawing at the nearest trained aspect ratio, then resizing) only where the
    transformer was trained at a binned size; the text default of the negative prompt cleared."""
    side = pipe.transformer.config.sample_size * pipe.vae_scale_factor
    return {"use_resolution_binning": side in BINNED_SIDES, "negative_prompt": None}


def gemma_vocab(words: Iterable[str], capitalize_top: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-fallback BPE in Gemma's layout (special tokens, then <0x00>..<0xFF>, then printable
    ASCII), holding each word as "▁word" and "word" (the commonest also capitalised), each built
    one character per merge so every prefix is a piece; "▁" merges rank first."""
    words = list(words)
    vocab: dict[str, int] = {}
    for token in (*GEMMA_SPECIAL, *(f"<0x{b:02X}>" for b in range(256)), WORD_START, *map(chr, range(33, 127))):
        vocab.setdefault(token, len(vocab))
    merges: dict[bool, list[tuple[str, str]]] = {True: [], False: []}
    for spaced in (True, False):
        for word in words + [w.capitalize() for w in words[:capitalize_top]]:
            piece = WORD_START + word if spaced else word
            for end in range(2, len(piece) + 1):
                if piece[:end] not in vocab:
                    vocab[piece[:end]] = len(vocab)
                    merges[spaced].append((piece[: end - 1], piece[end - 1]))
    return vocab, merges[True] + merges[False]


def gemma_tokenizer(options: dict):
    """A GemmaTokenizer (no SentencePiece model can be fetched offline) over CLIP's commonest
    whole words; it survives save/load because transformers 5 rebuilds Gemma's from a BPE."""
    from transformers import GemmaTokenizer

    words = [t.removesuffix("</w>") for t in clip_bpe_vocab()[0] if t.endswith("</w>")]
    words = [w for w in words if re.fullmatch(r"[a-z]{2,}", w)][: options["num_words"]]
    vocab, merges = gemma_vocab(words, options["capitalize_top"])
    return GemmaTokenizer(vocab=vocab, merges=merges, add_bos_token=True, add_eos_token=False, padding_side="right",
                          model_max_length=options["model_max_length"])


def build_tiny(config: dict, folder: Path) -> None:
    from diffusers import AutoencoderDC, SanaPipeline, SanaTransformer2DModel
    from transformers import Gemma2Config, Gemma2Model

    tokenizer = gemma_tokenizer(config["tokenizer"])
    SanaPipeline(
        tokenizer=tokenizer, text_encoder=Gemma2Model(Gemma2Config(**config["text_encoder"], vocab_size=len(tokenizer))),
        vae=AutoencoderDC(**config["vae"]), transformer=SanaTransformer2DModel(**config["transformer"]),
        scheduler=make_scheduler(config),
    ).save_pretrained(folder)


FAMILY = Family(
    name="sana", title="Sana", pipelines=("SanaPipeline",), encode=encode, encode_negative=encode_negative,
    text_limit=text_limit, build_tiny=build_tiny, gpu_dtype="bfloat16", call_options=call_options,
    image_to_image=False,  # diffusers has no image-to-image pipeline for it
)
