"""What a comparison is, apart from how it runs: prompt columns, guidance settings, models, the request, the result.

A leaf module (no torch, no Gradio): the engine, the judges, the stores, research mode and the UI
all build on these types, and none of them is imported here. Grid rows are model x setting: each
model runs its own preset rows (`model_preset`) unless the comparison gives its own settings.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import limits, model_registry
from .config import Settings, get_settings
from .engine import schedulers
from .errors import PlaygroundError

if TYPE_CHECKING:
    import pandas as pd
    from PIL import Image

    from .templates import TemplateSet

MAX_COLUMNS = 4
MAX_SETTINGS = 4
MAX_MODELS = 4
MAX_SEED = 2**32 - 1
MAX_GUIDANCE = 50
MAX_CLIP_GUIDANCE = 10_000
NEGATIVE_IN_LABEL = 24  # characters of a negative prompt a setting's label shows
LOAD_SECONDS = 20  # per model: moving its weights onto the GPU (ZeroGPU attaches one per request)
SCORE_SECONDS = 10  # the judges, for a whole grid
CLIP_GUIDANCE_COST = 4  # a CLIP-guided step also decodes, embeds and back-propagates


@dataclass(frozen=True)
class Column:
    """One column of a comparison grid: a filled prompt, from a template or typed freely."""

    prompt: str
    template_id: str = "free"
    negative_prompt: str = ""  # the template's; a setting's negative prompt is joined to it
    modality: str = ""
    variant: str = ""  # the Prompt S/R term this column's prompt carries (prompt_sr), else ''


@dataclass(frozen=True)
class GuidanceSetting:
    """One grid row: how the model is guided. `key` is its identity; `label` is for people."""

    guidance_scale: float = 7.5
    steps: int = 20
    scheduler: str = schedulers.DEFAULT
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
        schedulers.check_name(self.scheduler)

    def check_for(self, model: model_registry.Capabilities, where: str = "This setting") -> None:
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

    def negative_honoured(self, model: model_registry.Capabilities) -> bool:
        """Whether a negative prompt changes this row's images (diffusers uses it only under CFG)."""
        return model.negative_prompt and self.guidance_scale > 1


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
    card = model_registry.card(model_id)
    if card is None:
        return Preset(model_id, (GuidanceSetting(),))
    rows = tuple(GuidanceSetting(r.guidance_scale, r.steps, r.scheduler) for r in card.rows)
    return Preset(model_id, rows, card.width, card.height)


def cell_negative_prompt(column: Column, setting: GuidanceSetting) -> str:
    """The negative prompt a cell is drawn with: the column's (its template's) and the setting's, joined."""
    return ", ".join(p.strip() for p in (column.negative_prompt, setting.negative_prompt) if p and p.strip())


@dataclass
class Comparison:
    """What to generate: subject x columns x (model x setting) rows x seeds.

    Every cell uses the seeds ``base_seed .. base_seed + images_per_cell - 1``, so cells differ
    only by what is compared. `model_id` is one model or up to 4; `settings` None runs each
    model's preset rows, else these rows for every model. Model and guiding CLIP default to
    PLAYGROUND_MODEL and PLAYGROUND_SCORER.
    """

    subject: str
    columns: Sequence[Column]
    settings: Sequence[GuidanceSetting] | None = None
    images_per_cell: int = 2
    base_seed: int = 0
    model_id: str | Sequence[str] = field(default_factory=lambda: get_settings().model)
    guidance_scorer_id: str = field(default_factory=lambda: get_settings().scorer)  # steers CLIP-guided rows
    width: int | None = None  # None: the model's native size
    height: int | None = None

    @classmethod
    def from_templates(cls, subject: str, template_ids: Sequence[str], templates: TemplateSet, **kwargs) -> Comparison:
        """A comparison whose columns are library templates filled with `subject`."""
        return cls(subject=subject, columns=[templates[tid].column(subject) for tid in template_ids], **kwargs)

    @property
    def seeds(self) -> list[int]:
        return [self.base_seed + i for i in range(self.images_per_cell)]

    @property
    def models(self) -> tuple[str, ...]:
        return (self.model_id,) if isinstance(self.model_id, str) else tuple(self.model_id)

    def settings_of(self, model_id: str) -> tuple[GuidanceSetting, ...]:
        return tuple(self.settings) if self.settings is not None else model_preset(model_id).settings

    @property
    def rows(self) -> list[tuple[str, GuidanceSetting]]:
        """The grid's rows, model-major: (model id, setting)."""
        return [(m, s) for m in self.models for s in self.settings_of(m)]

    @property
    def n_images(self) -> int:
        return len(self.columns) * len(self.rows) * self.images_per_cell

    def gpu_seconds(self) -> int:
        """How long to ask ZeroGPU for: every image-step at its model's cost per step (the
        registry's `step_seconds`, scaled by pixels against the native size), plus loading each
        model and scoring."""
        per_row = len(self.columns) * self.images_per_cell
        total = LOAD_SECONDS * len(self.models) + SCORE_SECONDS
        for model_id, setting in self.rows:
            card = model_registry.card(model_id)
            step = card.step_seconds if card else model_registry.DEFAULT_STEP_SECONDS
            if card:
                step *= (self.width or card.width) * (self.height or card.height) / (card.width * card.height)
            total += per_row * setting.steps * step * (CLIP_GUIDANCE_COST if setting.clip_guidance_scale else 1)
        return math.ceil(total)

    def check_inputs(self, config: Settings | None = None) -> None:
        """Raise PlaygroundError naming the first bad value and what is allowed."""
        config = config or get_settings()
        chars = config.max_prompt_chars
        if not isinstance(self.subject, str) or not self.subject.strip():
            raise PlaygroundError("The subject is empty; type a medical subject such as 'melanoma'.")
        limits.text(self.subject, "The subject", chars)
        if not 1 <= len(self.columns) <= MAX_COLUMNS:
            raise PlaygroundError(f"A comparison has 1 to {MAX_COLUMNS} prompt columns, got {len(self.columns)}.")
        for i, column in enumerate(self.columns, start=1):
            if not column.prompt.strip():
                raise PlaygroundError(f"The prompt of column {i} is empty.")
            limits.text(column.prompt, f"The prompt of column {i}", chars)
            limits.text(column.negative_prompt, f"The negative prompt of column {i}", chars)
        if not 1 <= len(self.models) <= MAX_MODELS or not all(isinstance(m, str) and m.strip() for m in self.models):
            raise PlaygroundError(f"A comparison names 1 to {MAX_MODELS} models (non-empty ids), got {list(self.models)}.")
        if len(set(self.models)) < len(self.models):
            raise PlaygroundError(f"A comparison names each model once, got {list(self.models)}.")
        if self.settings is not None and not 1 <= len(self.settings) <= MAX_SETTINGS:
            raise PlaygroundError(f"A comparison has 1 to {MAX_SETTINGS} guidance settings, got {len(self.settings)}.")
        for i, (model_id, setting) in enumerate(self.rows, start=1):
            setting.check_inputs(config, f"Row {i}")
            model = model_registry.capabilities(model_id)
            if model is not None:
                setting.check_for(model, f"Row {i}")
        if self.images_per_cell < 1:
            raise PlaygroundError(f"Images per cell must be at least 1, got {self.images_per_cell}.")
        if self.n_images > config.max_images:
            raise PlaygroundError(
                f"This comparison asks for {self.n_images} images; the limit is {config.max_images} "
                "(fewer columns, models, settings or images per cell)."
            )
        if not 0 <= self.base_seed or self.base_seed + self.images_per_cell - 1 > MAX_SEED:
            raise PlaygroundError(f"Seeds must lie in 0..{MAX_SEED}, got base seed {self.base_seed}.")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and (value % 8 or not 64 <= value <= config.max_size):
                raise PlaygroundError(f"`{name}` must be a multiple of 8 between 64 and {config.max_size}, got {value}.")


@dataclass
class ComparisonResult:
    """One row of `frame` per image (columns: playground.schema), `images[i]` drawn for row i.

    `folder` and `zip_path` are set once the result is saved (PNGs with parameters, and a ZIP).
    """

    frame: pd.DataFrame
    images: list[Image.Image] = field(default_factory=list)
    folder: Path | None = None
    zip_path: Path | None = None
