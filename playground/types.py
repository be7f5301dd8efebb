"""The leaf types of a request: a prompt column, a guidance setting (its key and label), and what a
model honours. No torch, no Gradio, nothing of the registries: every layer builds on these.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from . import limits, samplers
from .config import Settings, get_settings
from .errors import PlaygroundError

MAX_COLUMNS = 4
MAX_SUBGROUPS = 6  # columns the patient-subgroup axis makes of one (Fitzpatrick I-VI): a grid's widest
MAX_SETTINGS = 4
MAX_MODELS = 4
MAX_SEED = 2**32 - 1
MAX_GUIDANCE = 50
MAX_CLIP_GUIDANCE = 10_000
MIN_CLIP_GUIDED_STEPS = 4  # CLIP guidance shifts the prediction before a step; a later step must denoise it
NEGATIVE_IN_LABEL = 24  # characters of a negative prompt a setting's label shows


@dataclass(frozen=True)
class Capabilities:
    """What a model honours; `title` names it in refusals."""

    title: str
    cfg: bool
    negative_prompt: bool
    clip_guidance: bool


@dataclass(frozen=True)
class Column:
    """One column of a comparison grid: a filled prompt, from a template or typed freely."""

    prompt: str
    template_id: str = "free"
    negative_prompt: str = ""  # the template's; a setting's negative prompt is joined to it
    modality: str = ""
    variant: str = ""  # the Prompt S/R term this column's prompt carries (prompt_sr) or its patient subgroup's label, else ''
    subgroup: str = ""  # the patient subgroup's id (demographics.yaml) this column's prompt names, else ''


@dataclass(frozen=True)
class GuidanceSetting:
    """One grid row: how the model is guided. `key` is its identity; `label` is for people."""

    guidance_scale: float = 7.5
    steps: int = 20
    scheduler: str = samplers.DEFAULT
    negative_prompt: str = ""
    clip_guidance_scale: float = 0.0  # > 0: CLIP-guided sampling (engine/guidance.py); 100 is typical

    @property
    def key(self) -> str:
        """A stable hash of every field: two settings share it only if they guide identically."""
        fields = asdict(self)
        fields.update(guidance_scale=float(self.guidance_scale), steps=int(self.steps),
                      clip_guidance_scale=float(self.clip_guidance_scale))
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        """E.g. "CFG 7.5 · CLIP guidance 100 · 20 steps · default · neg: blurry"."""
        parts = [f"CFG {self.guidance_scale:g}", f"{self.steps} steps", self.scheduler]
        if self.clip_guidance_scale:
            parts.insert(1, f"CLIP guidance {self.clip_guidance_scale:g}")
        if self.negative_prompt:
            negative = self.negative_prompt.strip()
            short = negative if len(negative) <= NEGATIVE_IN_LABEL else negative[: NEGATIVE_IN_LABEL - 1] + "…"
            parts.append(f"neg: {short}")
        return " · ".join(parts)

    def check_inputs(self, config: Settings | None = None, where: str = "This setting") -> None:
        """Raise PlaygroundError naming the first bad field of this setting and what is allowed."""
        config = config or get_settings()
        limits.text(self.negative_prompt, f"{where}: the negative prompt", config.max_prompt_chars)
        if not isinstance(self.steps, int) or not 1 <= self.steps <= config.max_steps:
            raise PlaygroundError(f"{where}: steps must be between 1 and {config.max_steps}, got {self.steps}.")
        limits.number(self.guidance_scale, f"{where}: guidance scale", 0, MAX_GUIDANCE)
        limits.number(self.clip_guidance_scale, f"{where}: CLIP guidance scale", 0, MAX_CLIP_GUIDANCE)
        samplers.check_name(self.scheduler)

    def check_for(self, model: Capabilities, where: str = "This setting") -> None:
        """Refuse, with a sentence, what `model` cannot honour: it is never run silently."""
        if not model.cfg and self.guidance_scale > 1:
            raise PlaygroundError(
                f"{where}: {model.title} is distilled to run without classifier-free guidance; set its guidance "
                f"scale to 0 (got {self.guidance_scale:g})."
            )
        if self.negative_prompt.strip() and not self.negative_honoured(model):
            if not model.cfg:
                reason = "runs without classifier-free guidance, so a negative prompt has no effect"
            elif not model.negative_prompt:
                reason = "takes no negative prompt"
            else:
                reason = "uses a negative prompt only with classifier-free guidance (guidance scale above 1)"
            raise PlaygroundError(f"{where}: {model.title} {reason}; clear the row's negative prompt.")
        if self.clip_guidance_scale and not model.clip_guidance:
            raise PlaygroundError(
                f"{where}: CLIP guidance runs on Stable Diffusion 1/2 and SDXL only, not on {model.title}; "
                "set the CLIP guidance scale to 0."
            )
        if self.clip_guidance_scale and self.steps < MIN_CLIP_GUIDED_STEPS:
            raise PlaygroundError(
                f"{where}: CLIP guidance needs at least {MIN_CLIP_GUIDED_STEPS} denoising steps (it steers the "
                f"prediction between steps, and a step must follow it); got {self.steps}. Raise the steps or set "
                "the CLIP guidance scale to 0."
            )

    def negative_honoured(self, model: Capabilities) -> bool:
        """Whether a negative prompt changes this row's images (diffusers uses it only under CFG)."""
        return model.negative_prompt and self.guidance_scale > 1


def cell_negative_prompt(column: Column, setting: GuidanceSetting) -> str:
    """The negative prompt a cell is drawn with: the column's (its template's) and the setting's, joined."""
    return ", ".join(p.strip() for p in (column.negative_prompt, setting.negative_prompt) if p and p.strip())
