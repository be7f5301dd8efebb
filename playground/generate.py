"""A comparison: one subject through several prompts and guidance settings, on the same seeds.

`run()` reads like a diffusers `__call__`: check inputs, load the pipeline once, encode each
distinct prompt once, denoise each settings row in batches (one generator per image, so a seed
gives the same starting noise in every column), and return one table row per image.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd
import torch
from diffusers import AutoPipelineForText2Image, StableDiffusionPipeline
from PIL import Image

from . import faults, schedulers
from .config import Settings, get_settings
from .guidance import ClipGuidance
from .models import load_pipeline, load_scorer
from .offline_models import TINY_PIPELINE_ID, TINY_SCORER_ID
from .scoring import add_clip_scores
from .templates import Column, TemplateSet, load_templates

MAX_COLUMNS = 4
MAX_SETTINGS = 4
MAX_SEED = 2**32 - 1
MAX_CLIP_GUIDANCE = 10_000

# The result table's columns, in order; scoring adds clip_prompt, clip_subject, clip_scorer.
FRAME_COLUMNS = {
    "subject": "the medical subject as typed",
    "column": "0-based column of the grid (which prompt)",
    "row": "0-based row of the grid (which guidance setting)",
    "template_id": "template the prompt came from, or 'free' for a typed prompt",
    "modality": "the template's modality (histopathology, x-ray, ...); empty for a free prompt",
    "prompt": "the filled prompt sent to the model",
    "negative_prompt": "negative prompt used (template's and setting's, joined)",
    "setting": "human-readable label of the guidance setting",
    "model_id": "model that drew the image",
    "scheduler": "sampler name (A1111 style)",
    "steps": "denoising steps",
    "guidance_scale": "classifier-free guidance scale",
    "clip_guidance_scale": "CLIP guidance strength (0 = off)",
    "seed": "seed of this image's generator",
    "width": "image width in pixels",
    "height": "image height in pixels",
    "seconds": "wall time of the image's batch divided by its size",
    "prompt_ignored": "the end of a prompt longer than the text encoder reads (77 CLIP tokens), else ''",
    "image_problem": "'' for a real image, else why it is not one (black/NaN image, safety checker flag)",
}

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class GuidanceSetting:
    """One grid row: how the model is guided."""

    guidance_scale: float = 7.5
    steps: int = 20
    scheduler: str = schedulers.DEFAULT
    negative_prompt: str = ""
    clip_guidance_scale: float = 0.0  # > 0: CLIP-guided sampling (see guidance.py); 100 is typical

    @property
    def label(self) -> str:
        parts = [f"CFG {self.guidance_scale:g}", f"{self.steps} steps", self.scheduler]
        if self.clip_guidance_scale:
            parts.insert(1, f"CLIP guidance {self.clip_guidance_scale:g}")
        if self.negative_prompt:
            parts.append("neg")
        return " · ".join(parts)


@dataclass
class Comparison:
    """What to generate: subject x columns x settings x seeds.

    Every cell uses the seeds ``base_seed .. base_seed + images_per_cell - 1``, so cells differ
    only by what is compared.
    """

    subject: str
    columns: Sequence[Column]
    settings: Sequence[GuidanceSetting] = (GuidanceSetting(),)
    images_per_cell: int = 2
    base_seed: int = 0
    model_id: str = TINY_PIPELINE_ID
    guidance_scorer_id: str = TINY_SCORER_ID  # the CLIP that steers rows with clip_guidance_scale > 0
    width: int | None = None  # None: the model's native size
    height: int | None = None

    @classmethod
    def from_templates(
        cls, subject: str, template_ids: Sequence[str], templates: TemplateSet | None = None, **kwargs
    ) -> Comparison:
        """A comparison whose columns are library templates filled with `subject`."""
        templates = templates or load_templates()
        columns = [templates[tid].column(subject) for tid in template_ids]
        return cls(subject=subject, columns=columns, **kwargs)

    @property
    def seeds(self) -> list[int]:
        return [self.base_seed + i for i in range(self.images_per_cell)]

    @property
    def n_images(self) -> int:
        return len(self.columns) * len(self.settings) * self.images_per_cell

    def check_inputs(self, limits: Settings | None = None) -> None:
        """Raise ValueError naming the first bad value and what is allowed."""
        limits = limits or get_settings()
        if not isinstance(self.subject, str) or not self.subject.strip():
            raise ValueError("The subject is empty; type a medical subject such as 'melanoma'.")
        if not 1 <= len(self.columns) <= MAX_COLUMNS:
            raise ValueError(f"A comparison has 1 to {MAX_COLUMNS} prompt columns, got {len(self.columns)}.")
        _check_length("The subject", self.subject, limits)
        for i, column in enumerate(self.columns, start=1):
            if not column.prompt.strip():
                raise ValueError(f"The prompt of column {i} is empty.")
            _check_length(f"The prompt of column {i}", column.prompt, limits)
            _check_length(f"The negative prompt of column {i}", column.negative_prompt, limits)
        if not 1 <= len(self.settings) <= MAX_SETTINGS:
            raise ValueError(f"A comparison has 1 to {MAX_SETTINGS} guidance settings, got {len(self.settings)}.")
        for i, setting in enumerate(self.settings, start=1):
            _check_setting(i, setting, limits)
        if self.images_per_cell < 1:
            raise ValueError(f"Images per cell must be at least 1, got {self.images_per_cell}.")
        if self.n_images > limits.max_images:
            raise ValueError(
                f"This comparison asks for {self.n_images} images; the limit is {limits.max_images} "
                "(fewer columns, settings or images per cell)."
            )
        if not 0 <= self.base_seed or self.base_seed + self.images_per_cell - 1 > MAX_SEED:
            raise ValueError(f"Seeds must lie in 0..{MAX_SEED}, got base seed {self.base_seed}.")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and (value % 8 or not 64 <= value <= limits.max_size):
                raise ValueError(f"`{name}` must be a multiple of 8 between 64 and {limits.max_size}, got {value}.")


def _check_length(what: str, text: str, limits: Settings) -> None:
    if len(text) > limits.max_prompt_chars:
        raise ValueError(f"{what} has {len(text):,} characters; the limit is {limits.max_prompt_chars:,}.")


def _check_setting(row: int, setting: GuidanceSetting, limits: Settings) -> None:
    _check_length(f"Row {row}: the negative prompt", setting.negative_prompt, limits)
    if not 1 <= setting.steps <= limits.max_steps:
        raise ValueError(f"Row {row}: steps must be between 1 and {limits.max_steps}, got {setting.steps}.")
    scale = setting.guidance_scale
    if not math.isfinite(scale) or not 0 <= scale <= 50:
        raise ValueError(f"Row {row}: guidance scale must be a number between 0 and 50, got {scale}.")
    clip_scale = setting.clip_guidance_scale
    if not math.isfinite(clip_scale) or not 0 <= clip_scale <= MAX_CLIP_GUIDANCE:
        raise ValueError(
            f"Row {row}: CLIP guidance scale must be a number between 0 and {MAX_CLIP_GUIDANCE}, got {clip_scale}."
        )
    schedulers.check_name(setting.scheduler)


@dataclass
class ComparisonResult:
    """One row of `frame` per image, `images[i]` drawn for `frame.iloc[i]` (see FRAME_COLUMNS)."""

    frame: pd.DataFrame
    images: list[Image.Image] = field(default_factory=list)


def _joined(*parts: str) -> str:
    return ", ".join(p.strip() for p in parts if p and p.strip())


class _PromptEncoder:
    """Encodes each distinct (prompt, negative prompt) once and hands out pipeline kwargs.

    Pipelines of the Stable Diffusion family take precomputed embeddings; any other pipeline gets
    the texts and encodes them itself.
    """

    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.takes_embeddings = isinstance(pipe, StableDiffusionPipeline)
        self._cache: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}
        self._ignored: dict[str, str] = {}

    @torch.no_grad()
    def _encode(self, prompt: str, negative: str) -> tuple[torch.Tensor, torch.Tensor]:
        key = (prompt, negative)
        if key not in self._cache:
            self._cache[key] = self.pipe.encode_prompt(
                prompt, self.pipe.device, num_images_per_prompt=1, do_classifier_free_guidance=True,
                negative_prompt=negative,
            )
        return self._cache[key]

    def ignored_text(self, prompt: str) -> str:
        """The end of `prompt` the text encoder never reads (it stops at model_max_length tokens)."""
        tokenizer = getattr(self.pipe, "tokenizer", None)
        if tokenizer is None:
            return ""
        if prompt not in self._ignored:  # once per distinct prompt, not per image
            ids = tokenizer(prompt, truncation=False).input_ids
            limit = tokenizer.model_max_length
            self._ignored[prompt] = tokenizer.decode(ids[limit - 1 : -1]).strip() if len(ids) > limit else ""
        return self._ignored[prompt]

    def kwargs(self, pairs: Sequence[tuple[str, str]]) -> dict:
        if not self.takes_embeddings:
            return {"prompt": [p for p, _ in pairs], "negative_prompt": [n for _, n in pairs]}
        encoded = [self._encode(p, n) for p, n in pairs]
        return {
            "prompt_embeds": torch.cat([e[0] for e in encoded]),
            "negative_prompt_embeds": torch.cat([e[1] for e in encoded]),
        }


class _StepCounter:
    """Turns each batch's per-step callbacks into one grid-wide ``progress(done, total)``."""

    def __init__(self, total: int, progress: ProgressFn | None) -> None:
        self.total, self.progress = total, progress
        self.done = 0
        self._batch_end = 0

    def batch_callback(self, n_images: int, steps: int):
        base = self.done
        self._batch_end = base + n_images * steps

        def on_step_end(_pipe, step: int, _timestep, callback_kwargs: dict) -> dict:
            self._report(min(base + (step + 1) * n_images, self._batch_end))
            return callback_kwargs

        return on_step_end

    def finish_batch(self) -> None:
        self._report(self._batch_end)  # schedulers with extra internal steps still land exactly

    def _report(self, done: int) -> None:
        self.done = done
        if self.progress:
            self.progress(done, self.total)


def image_problem(image: Image.Image, flagged_unsafe: bool) -> str:
    """Why an output is not a real image: diffusers turns NaN pixels (an fp16 VAE overflow) into
    black, and the safety checker blacks out what it flags; neither should be scored."""
    if flagged_unsafe:
        return "flagged by the safety checker (blacked out)"
    if max(high for _, high in image.getextrema()) <= 2:
        return "black image: the model produced NaN or no signal (e.g. fp16 VAE overflow)"
    return ""


def _out_of_memory(comparison: Comparison, batch_size: int) -> ValueError:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    size = f"{comparison.width or 'native'}x{comparison.height or 'native'}"
    return ValueError(
        f"Out of memory while generating a batch of {batch_size} images at {size} pixels. Try a smaller grid: "
        "fewer images per cell, prompt columns or settings rows, or a smaller size."
    )


def run(comparison: Comparison, progress: ProgressFn | None = None) -> ComparisonResult:
    """Generate every image of `comparison`.

    Args:
        comparison: what to generate; checked first.
        progress: called as ``progress(done, total)`` in image-steps (an image denoised one step)
            after every denoising step, so a UI can draw one bar for the whole grid.

    Returns:
        A `ComparisonResult`: images ordered by row, then column, then seed.
    """
    # 1. Check inputs
    limits = get_settings()
    comparison.check_inputs(limits)

    # 2. Load the pipeline once (cached across requests)
    pipe = load_pipeline(comparison.model_id)

    # 3. Encode each distinct prompt once, shared by all rows
    encoder = _PromptEncoder(pipe)
    if not encoder.takes_embeddings and any(s.clip_guidance_scale for s in comparison.settings):
        raise ValueError(f"CLIP guidance needs a Stable Diffusion pipeline; {comparison.model_id!r} is a {type(pipe).__name__}.")
    counter = _StepCounter(
        sum(s.steps for s in comparison.settings) * len(comparison.columns) * comparison.images_per_cell, progress
    )

    rows: list[dict] = []
    images: list[Image.Image] = []
    jobs = [(c, seed) for c in range(len(comparison.columns)) for seed in comparison.seeds]
    for row_index, setting in enumerate(comparison.settings):
        # 4. One pipeline view per row, sharing the model weights, with its own fresh scheduler
        row_pipe = AutoPipelineForText2Image.from_pipe(pipe, scheduler=schedulers.make(setting.scheduler, pipe.scheduler))
        row_pipe.set_progress_bar_config(disable=True)
        sampler = schedulers.label(row_pipe.scheduler)

        # 5. Denoise and decode in batches that share this row's settings
        for start in range(0, len(jobs), max(1, limits.max_batch)):
            batch = jobs[start : start + limits.max_batch]
            pairs = [
                (comparison.columns[c].prompt, _joined(comparison.columns[c].negative_prompt, setting.negative_prompt))
                for c, _ in batch
            ]
            callback = counter.batch_callback(len(batch), setting.steps)
            if setting.clip_guidance_scale:
                callback = ClipGuidance(
                    load_scorer(comparison.guidance_scorer_id), [p for p, _ in pairs], setting.clip_guidance_scale,
                    seed=batch[0][1], then=callback,
                )
            began = time.perf_counter()
            try:
                faults.trip("oom", lambda: torch.OutOfMemoryError("injected by a test"))
                # inference_mode skips autograd bookkeeping (about 5% on CPU); CLIP guidance needs it
                with torch.inference_mode(not setting.clip_guidance_scale):
                    output = row_pipe(
                        **encoder.kwargs(pairs),
                        guidance_scale=setting.guidance_scale,
                        num_inference_steps=setting.steps,
                        generator=[torch.Generator("cpu").manual_seed(seed) for _, seed in batch],
                        width=comparison.width,
                        height=comparison.height,
                        callback_on_step_end=callback,
                    )
            except (torch.OutOfMemoryError, MemoryError) as exc:
                raise _out_of_memory(comparison, len(batch)) from exc
            seconds = (time.perf_counter() - began) / len(batch)
            counter.finish_batch()
            flags = getattr(output, "nsfw_content_detected", None) or [False] * len(batch)
            for (c, seed), (prompt, negative), image, flagged in zip(batch, pairs, output.images, flags):
                column = comparison.columns[c]
                rows.append({
                    "subject": comparison.subject.strip(), "column": c, "row": row_index,
                    "template_id": column.template_id, "modality": column.modality, "prompt": prompt, "negative_prompt": negative,
                    "setting": setting.label, "model_id": comparison.model_id, "scheduler": sampler,
                    "steps": setting.steps, "guidance_scale": float(setting.guidance_scale),
                    "clip_guidance_scale": float(setting.clip_guidance_scale), "seed": seed,
                    "width": image.width, "height": image.height, "seconds": seconds,
                    "prompt_ignored": encoder.ignored_text(prompt), "image_problem": image_problem(image, bool(flagged)),
                })
                images.append(image)
    return ComparisonResult(pd.DataFrame(rows, columns=list(FRAME_COLUMNS)), images)


def compare(
    subject: str,
    template_ids: Sequence[str],
    settings: Sequence[GuidanceSetting] = (GuidanceSetting(),),
    images_per_cell: int = 2,
    model_id: str = TINY_PIPELINE_ID,
    scorer_id: str = TINY_SCORER_ID,
    progress: ProgressFn | None = None,
    **kwargs,
) -> ComparisonResult:
    """Generate a template comparison and score it with CLIP, in one call.

    Example:
        >>> from playground import compare, GuidanceSetting
        >>> result = compare("melanoma", ["photo-short", "photo-detailed"],
        ...                  [GuidanceSetting(4, steps=2), GuidanceSetting(7.5, steps=2)])
        >>> result.frame[["template_id", "guidance_scale", "seed", "clip_prompt"]]
    """
    comparison = Comparison.from_templates(
        subject, template_ids, settings=settings, images_per_cell=images_per_cell, model_id=model_id, **kwargs
    )
    return add_clip_scores(run(comparison, progress), load_scorer(scorer_id))
