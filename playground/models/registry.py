"""The models the playground knows: `prompt_library/models.yaml`, one entry per model, from its card.

Each entry says what the model is (family, licence, gated, native size), how to run it well
(recommended guidance rows, GPU dtype, a cost per step for ZeroGPU) and what it can honour
(classifier-free guidance, negative prompts, CLIP guidance). The Compare tab offers the
registry's models and loads a model's rows when it is chosen; a comparison refuses a setting the
model cannot honour instead of running it silently. Entries are validated one by one, as every
data file is (see datafiles), and checked against what their family can do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import samplers
from ..catalog.datafiles import load_cards
from ..config import get_settings
from ..errors import PlaygroundError
from ..types import Capabilities, GuidanceSetting
from . import families

DEFAULT_STEP_SECONDS = 0.1  # a model not in the registry: an SDXL-sized guess for ZeroGPU's duration


class PresetRow(BaseModel):
    """One recommended guidance row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    guidance_scale: float = Field(ge=0)
    steps: int = Field(ge=1)
    scheduler: str = samplers.DEFAULT

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        samplers.check_name(value)
        return value


class ModelCard(BaseModel):
    """A registered model. `step_seconds`: GPU seconds per image per denoising step at native
    size, an estimate that sizes the ZeroGPU request (not a benchmark)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    family: str
    licence: str
    gated: bool
    width: int = Field(ge=8)
    height: int = Field(ge=8)
    cfg: bool  # classifier-free guidance applies (False: distilled to run without it)
    negative_prompt: bool
    clip_guidance: bool
    dtype: Literal["float16", "bfloat16", "float32"]  # on a GPU; the CPU always runs float32
    variant: Literal["fp16"] | None = None  # on a GPU, the repo's fp16 weight files (looked up in its tree)
    component_dtypes: dict[str, Literal["float16", "bfloat16", "float32"]] = {}  # on a GPU, components run otherwise
    rows: tuple[PresetRow, ...] = Field(min_length=1, max_length=4)
    step_seconds: float = Field(gt=0)
    note: str
    source: str  # where the values come from (the model card)
    offline: bool = False  # a tiny random-weight model built locally (offline_configs/)
    tiny_decoder: str | None = None  # its AutoencoderTiny (TAESD family) for drafts; None: none exists for its VAE

    @field_validator("family")
    @classmethod
    def _known_family(cls, value: str) -> str:
        if value not in families.names():
            raise ValueError(f"unknown family {value!r}; families: {', '.join(families.names())}")
        return value

    @model_validator(mode="after")
    def _honours_what_family_can(self) -> ModelCard:
        family = families.get(self.family)
        if self.negative_prompt and not (self.cfg and family.negative_prompt):
            raise ValueError("negative_prompt needs cfg and a family that takes negative prompts")
        if self.clip_guidance and not family.clip_guidance:
            raise ValueError(f"CLIP guidance is not available for the {family.title} family")
        if self.variant == "fp16" and self.dtype != "float16":
            raise ValueError("the fp16 weight variant needs dtype float16")
        if not self.cfg and any(r.guidance_scale > 1 for r in self.rows):
            raise ValueError("a model without classifier-free guidance needs rows with guidance_scale <= 1")
        return self


@dataclass(frozen=True)
class Registry:
    cards: dict[str, ModelCard]
    problems: tuple[str, ...]

    def hub_models(self) -> list[str]:
        return [c.id for c in self.cards.values() if not c.offline]

    def offline_models(self) -> list[str]:
        return [c.id for c in self.cards.values() if c.offline]


def load_models(path: Path | None = None) -> Registry:
    """The registry from PLAYGROUND_DATA's models.yaml (read again when the file changes)."""
    return Registry(*load_cards(path or get_settings().data_dir / "models.yaml", ModelCard))


def card(model_id: str) -> ModelCard | None:
    return load_models().cards.get(model_id)


def capabilities(model_id: str, family: str | None = None) -> Capabilities | None:
    """What `model_id` honours: its card's values, else its family's (a model known only by the
    pipeline it loads as), else None (not known before loading)."""
    found = card(model_id)
    if found is not None:
        return Capabilities(model_id, found.cfg, found.negative_prompt, found.clip_guidance)
    if family is None:
        return None
    known = families.get(family)
    return Capabilities(f"{model_id} ({known.title})", True, known.negative_prompt, known.clip_guidance)


def has_tiny_decoder(model_id: str) -> bool:
    """Whether `model_id` has a tiny decoder (for drafts and live previews)."""
    found = card(model_id)
    return found is not None and found.tiny_decoder is not None


def tiny_decoder(model_id: str) -> str:
    """The id of `model_id`'s tiny decoder (its card's), or a sentence saying why there is none."""
    found = card(model_id)
    if found is None:
        raise PlaygroundError(f"'{model_id}' is not in the model registry (prompt_library/models.yaml), so no tiny "
                              "decoder is known for it; draw it with the full decoder.")
    if found.tiny_decoder is None:
        raise PlaygroundError(f"{model_id} ({families.get(found.family).title}) has no tiny decoder: madebyollin's "
                              "TAESD decoders cover Stable Diffusion 1/2, SDXL, SD3 and FLUX.1. Draw it with the full decoder.")
    return found.tiny_decoder


@dataclass(frozen=True)
class Preset:
    """A model's recommended rows and native size (None: unknown until the model loads)."""

    model_id: str
    settings: tuple[GuidanceSetting, ...]
    width: int | None = None
    height: int | None = None


def model_preset(model_id: str) -> Preset:
    """The rows and size `prompt_library/models.yaml` recommends for `model_id`; a model not in
    the registry gets one default row (CFG 7.5, 20 steps) at its native size.

    Example:
        >>> model_preset("stabilityai/sd-turbo").settings[0]
        GuidanceSetting(guidance_scale=0.0, steps=1, ...)
    """
    found = card(model_id)
    if found is None:
        return Preset(model_id, (GuidanceSetting(),))
    rows = tuple(GuidanceSetting(r.guidance_scale, r.steps, r.scheduler) for r in found.rows)
    return Preset(model_id, rows, found.width, found.height)
