"""Model families: what differs between Stable Diffusion 1/2, SDXL, SD3, FLUX, PixArt, ...

A family is one module in this package defining `FAMILY`, a `Family`: the diffusers pipeline
classes it covers, how it encodes one text into the embeddings its `__call__` accepts, what it
can honour (negative prompts, CLIP guidance), its GPU dtype, and how to build its tiny offline
model. The engine asks the family and never tests a pipeline's class itself, so a new family is
one new module here plus entries in `prompt_library/models.yaml` (and a tiny config).

Importing this package loads neither torch nor diffusers; the modules import them when called.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ...errors import PlaygroundError

Encoded = dict[str, Any]  # __call__ keyword -> a batch-1 tensor, for one text


def _never(_pipe) -> bool:
    return False


def _no_options(_pipe) -> dict:
    return {}


def _step_end_callback(callback) -> dict:
    return {"callback_on_step_end": callback}


@dataclass(frozen=True)
class Family:
    """What the engine needs to know about one family of pipelines.

    `encode(pipe, text)` returns the embeddings of one text in the role of a prompt, keyed by the
    `__call__` keywords that take them (``prompt_embeds``, ``pooled_prompt_embeds``, ...); the
    same encoding serves as a negative prompt under the keys prefixed ``negative_``, unless the
    family encodes negatives differently (`encode_negative`, same keys).
    `text_limit(pipe)` is (tokenizer, tokens read) of the encoder that reads the furthest.
    """

    name: str
    title: str
    pipelines: tuple[str, ...]  # diffusers pipeline class names
    encode: Callable[[Any, str], Encoded]
    text_limit: Callable[[Any], tuple[Any, int]]
    build_tiny: Callable[[dict, Path], None] | None  # None: no tiny offline model of this family
    encode_negative: Callable[[Any, str], Encoded] | None = None  # a negative encoded unlike a prompt
    negative_prompt: bool = True  # the pipeline takes negative embeddings (used under CFG)
    clip_guidance: bool = False  # engine/guidance.py can steer its latents
    gpu_dtype: str = "float16"
    zero_empty_negative: Callable[[Any], bool] = _never  # SDXL: an empty negative is zeros, not encoded
    step_callback: Callable[[Callable], dict] = _step_end_callback  # how to attach a per-step callback
    call_options: Callable[[Any], dict] = _no_options  # extra __call__ keywords for this pipeline
    image_to_image: bool = True  # diffusers' AutoPipelineForImage2Image has a pipeline for it (refine)


@cache
def names() -> tuple[str, ...]:
    """Every family module in this package."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


@cache
def get(name: str) -> Family:
    if name not in names():
        raise PlaygroundError(f"Unknown model family {name!r}; families: {', '.join(names())}.")
    return importlib.import_module(f"{__name__}.{name}").FAMILY


def of_pipeline_class(class_name: str) -> Family | None:
    """The family whose pipelines include `class_name` (None for a pipeline no family covers)."""
    return next((get(n) for n in names() if class_name in get(n).pipelines), None)


def of_pipeline(pipe) -> Family:
    family = of_pipeline_class(type(pipe).__name__)
    if family is None:
        known = ", ".join(p for n in names() for p in get(n).pipelines)
        raise PlaygroundError(f"The playground does not know how to drive a {type(pipe).__name__}; it drives {known}.")
    return family
