"""A comparison request and its result: subject x prompt columns x (model x setting) rows x seeds.

Grid rows are model x setting: each model runs its own preset rows (`model_preset`, from the
model registry) unless the comparison gives its own settings. No torch, no Gradio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import limits
from .config import Settings, get_settings
from .errors import PlaygroundError
from .models import registry as model_registry
from .models.registry import model_preset
from .types import (
    MAX_COLUMNS,
    MAX_MODELS,
    MAX_SEED,
    MAX_SETTINGS,
    MAX_SUBGROUPS,
    Column,
    GuidanceSetting,
)

Decoder = Literal["full", "fast"]
DECODERS: tuple[Decoder, ...] = ("full", "fast")  # the model's own VAE; its tiny decoder (drafts)

if TYPE_CHECKING:
    import pandas as pd
    from PIL import Image

    from .catalog.templates import TemplateSet


@dataclass
class Comparison:
    """What to generate: subject x columns x (model x setting) rows x seeds.

    Every cell uses the seeds ``base_seed .. base_seed + images_per_cell - 1``, so cells differ
    only by what is compared. `model_id` is one model or up to 4; `settings` None runs each
    model's preset rows, else these rows for every model. Model and guiding CLIP default to
    PLAYGROUND_MODEL and PLAYGROUND_SCORER.

    `decoder` "fast" draws drafts: the images are decoded by each model's tiny decoder (its card's
    `tiny_decoder`) instead of its VAE; `full_decode_of(row)` is the comparison that draws one
    again in full. `guidance_decoder` "fast" decodes CLIP guidance's clean-image estimate with the
    tiny decoder (a cheaper gradient), whichever decoder draws the image.
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
    decoder: Decoder = "full"
    guidance_decoder: Decoder = "full"

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

    def full_decode_of(self, row: Mapping) -> Comparison:
        """The one-image comparison that draws `row` (a row of this comparison's result frame, a
        draft) again with the full decoder: its model, setting, prompt column and seed, and the
        same CLIP guidance path, hence the same latents."""
        model_id, setting = self.rows[int(row["row"])]
        return replace(self, columns=[self.columns[int(row["column"])]], settings=[setting], model_id=model_id,
                       images_per_cell=1, base_seed=int(row["seed"]), decoder="full")

    def needs_tiny_decoder(self, model_id: str) -> bool:
        """Whether `model_id`'s images or its CLIP guidance go through its tiny decoder."""
        guided = any(s.clip_guidance_scale for s in self.settings_of(model_id))
        return self.decoder == "fast" or (self.guidance_decoder == "fast" and guided)

    @property
    def rows(self) -> list[tuple[str, GuidanceSetting]]:
        """The grid's rows, model-major: (model id, setting)."""
        return [(m, s) for m in self.models for s in self.settings_of(m)]

    @property
    def n_images(self) -> int:
        return len(self.columns) * len(self.rows) * self.images_per_cell

    def work(self) -> float:
        """What this request costs, in image-steps at 512x512: each row's images x its steps x its
        pixels over 512², at the size asked for, else the model's native size (512 when unknown)."""
        def pixels(model_id: str) -> int:
            preset = model_preset(model_id)
            return (self.width or preset.width or 512) * (self.height or preset.height or 512)

        per_row = len(self.columns) * self.images_per_cell
        return sum(per_row * setting.steps * pixels(model_id) / 512**2 for model_id, setting in self.rows)

    def check_work(self, config: Settings | None = None) -> None:
        """Refuse, for a shared server, a request that would hold the GPU (and the queue's one
        worker) too long; the sentence says how to draw a bigger grid (a sweep, which has no cap)."""
        config = config or get_settings()
        if (work := self.work()) > config.max_work:
            raise PlaygroundError(
                f"This comparison asks for about {work:,.0f} image-steps at 512x512 pixels (images x steps x size); "
                f"one request may ask for {config.max_work:,}, so that it does not hold the GPU while others wait. "
                "Draw fewer images, steps or pixels, or run a bigger grid as a sweep: "
                "`playground sweep STUDY.yaml --out runs/NAME` (see the README's Research mode)."
            )

    def check_inputs(self, config: Settings | None = None) -> None:
        """Raise PlaygroundError naming the first bad value and what is allowed."""
        config = config or get_settings()
        chars = config.max_prompt_chars
        if not isinstance(self.subject, str) or not self.subject.strip():
            raise PlaygroundError("The subject is empty; type a medical subject such as 'melanoma'.")
        limits.text(self.subject, "The subject", chars)
        widest = MAX_SUBGROUPS if all(c.subgroup for c in self.columns) else MAX_COLUMNS
        if not 1 <= len(self.columns) <= widest:
            raise PlaygroundError(f"A comparison has 1 to {MAX_COLUMNS} prompt columns (up to {MAX_SUBGROUPS} when they are "
                                  f"one prompt's patient subgroups), got {len(self.columns)}.")
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
        self._check_decoders()

    def _check_decoders(self) -> None:
        """Refuse an unknown decoder, and the fast one for a model that has no tiny decoder."""
        for name in ("decoder", "guidance_decoder"):
            if getattr(self, name) not in DECODERS:
                raise PlaygroundError(f"`{name}` is 'full' (the model's VAE) or 'fast' (its tiny decoder), "
                                      f"got {getattr(self, name)!r}.")
        for model_id in self.models:
            if self.needs_tiny_decoder(model_id):
                model_registry.tiny_decoder(model_id)


@dataclass
class ComparisonResult:
    """One row of `frame` per image (columns: playground.schema), `images[i]` drawn for row i.

    `folder` and `zip_path` are set once the result is saved (PNGs with parameters, and a ZIP);
    `seconds`, how long the request had run when it was (the time the cost estimate is held to).
    """

    frame: pd.DataFrame
    images: list[Image.Image] = field(default_factory=list)
    folder: Path | None = None
    zip_path: Path | None = None
    seconds: float = 0.0
