"""A comparison: one subject through several prompts, guidance settings and models, on the same seeds.

`run()` reads like a diffusers `__call__`: check inputs, then for each model load its pipeline
once (through the cache), encode each distinct text once in the way its family needs, denoise
each row in batches (one generator per image, so a seed gives the same starting noise in every
column), and return one table row per image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from diffusers import AutoPipelineForText2Image
from PIL import Image

from .. import model_registry, schema
from ..comparison import Comparison, ComparisonResult, GuidanceSetting, cell_negative_prompt
from ..config import get_settings
from ..errors import PlaygroundError
from . import families, schedulers
from .guidance import ClipGuidance
from .models import load_pipeline, load_scorer

ProgressFn = Callable[..., None]  # progress(done, total) in image-steps; progress(bytes, total, what) downloading


class _PromptEncoder:
    """Encodes each distinct text once per request, as its family needs, and hands out
    pipeline kwargs for a batch (the same text as a prompt and as a negative prompt shares one
    encoding)."""

    def __init__(self, pipe, family: families.Family) -> None:
        self.pipe, self.family = pipe, family
        self._cache: dict[tuple[str, bool], families.Encoded] = {}
        self._ignored: dict[str, str] = {}
        self._negatives_differ = family.encode_negative is not None

    @torch.no_grad()
    def _encode(self, text: str, negative: bool = False) -> families.Encoded:
        key = (text, negative and self._negatives_differ)
        if key not in self._cache:
            self._cache[key] = (self.family.encode_negative if key[1] else self.family.encode)(self.pipe, text)
        return self._cache[key]

    def _negative(self, text: str, like: families.Encoded) -> families.Encoded:
        if not text and self.family.zero_empty_negative(self.pipe):
            encoded = {k: torch.zeros_like(v) for k, v in like.items()}
        else:
            encoded = self._encode(text, negative=True)
        return {f"negative_{k}": v for k, v in encoded.items()}

    def ignored_text(self, prompt: str) -> str:
        """The end of `prompt` no text encoder reads (the furthest-reading one stops at `limit`
        tokens, its end-of-text token included; CLIP also counts a start token, T5 has none)."""
        if prompt not in self._ignored:  # once per distinct prompt, not per image
            tokenizer, limit = self.family.text_limit(self.pipe)
            ids = tokenizer(prompt, truncation=False).input_ids
            self._ignored[prompt] = tokenizer.decode(ids[limit - 1 : -1]).strip() if len(ids) > limit else ""
        return self._ignored[prompt]

    def kwargs(self, pairs: Sequence[tuple[str, str]], with_negative: bool) -> dict:
        """Batched embeddings for (prompt, negative) pairs; negatives only when the row uses them."""
        encoded = []
        for prompt, negative in pairs:
            positive = self._encode(prompt)
            encoded.append({**positive, **(self._negative(negative, positive) if with_negative else {})})
        return {key: torch.cat([e[key] for e in encoded]) for key in encoded[0]}


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


def _out_of_memory(comparison: Comparison, batch_size: int) -> PlaygroundError:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    size = f"{comparison.width or 'native'}x{comparison.height or 'native'}"
    return PlaygroundError(
        f"Out of memory while generating a batch of {batch_size} images at {size} pixels. Try a smaller grid: "
        "fewer images per cell, prompt columns, models or settings rows, or a smaller size."
    )


def run(comparison: Comparison, progress: ProgressFn | None = None) -> ComparisonResult:
    """Generate every image of `comparison`.

    Args:
        comparison: what to generate; checked first.
        progress: called as ``progress(done, total)`` in image-steps (an image denoised one step)
            after every denoising step, so a UI can draw one bar for the whole grid, across
            models; and as ``progress(bytes_done, bytes_total, "Downloading <model>")`` while a
            model's files download on its first use. It runs inside the denoising call, so an
            error it raises is handled as the model's would be.

    Returns:
        A `ComparisonResult`: images ordered by row (model, then setting), then column, then seed.
    """
    # 1. Check inputs
    comparison.check_inputs(get_settings())
    n_cells = len(comparison.columns) * comparison.images_per_cell
    counter = _StepCounter(sum(s.steps for _, s in comparison.rows) * n_cells, progress)
    rows: list[dict] = []
    images: list[Image.Image] = []
    for model_id in comparison.models:
        # 2. Load the pipeline once (cached across requests); refuse what this model cannot honour
        model = _Model.load(model_id, comparison, progress)
        settings = comparison.settings_of(model_id)
        for number, setting in enumerate(settings, start=len(rows) // n_cells + 1):
            setting.check_for(model.honours, f"Row {number}")
        # 3. Denoise its rows; each distinct text is encoded once, shared by all of them
        for setting in settings:
            drawn, row_images = _draw_row(comparison, model, setting, len(rows) // n_cells, counter)
            rows += drawn
            images += row_images
    return ComparisonResult(schema.new_frame(rows), images)


@dataclass
class _Model:
    """One model of a comparison, ready to draw: its pipeline and family, what it honours, the
    size it draws at (the comparison's, else its registered native size, else the pipeline's
    default) and its prompt encoder, shared by its rows."""

    model_id: str
    pipe: Any
    family: families.Family
    honours: model_registry.Capabilities
    encoder: _PromptEncoder
    width: int | None
    height: int | None

    @classmethod
    def load(cls, model_id: str, comparison: Comparison, progress: ProgressFn | None) -> _Model:
        pipe = load_pipeline(model_id, on_download=_download_reporter(model_id, progress))
        family = families.of_pipeline(pipe)
        card = model_registry.card(model_id)
        return cls(
            model_id, pipe, family, model_registry.capabilities(model_id, family.name), _PromptEncoder(pipe, family),
            comparison.width or (card.width if card else None), comparison.height or (card.height if card else None),
        )


def _download_reporter(model_id: str, progress: ProgressFn | None) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(done, total, f"Downloading {model_id} (its first use)")


def _draw_row(
    comparison: Comparison, model: _Model, setting: GuidanceSetting, row_index: int, counter: _StepCounter,
) -> tuple[list[dict], list[Image.Image]]:
    """Every image of one grid row: one pipeline view with its own fresh scheduler, batches of
    at most PLAYGROUND_MAX_BATCH images sharing the row's settings."""
    max_batch = max(1, get_settings().max_batch)
    pipe = model.pipe
    row_pipe = AutoPipelineForText2Image.from_pipe(pipe, scheduler=schedulers.make(setting.scheduler, pipe.scheduler))
    row_pipe.set_progress_bar_config(disable=True)
    sampler = schedulers.label(row_pipe.scheduler)
    with_negative = setting.negative_honoured(model.honours)
    jobs = [(c, seed) for c in range(len(comparison.columns)) for seed in comparison.seeds]
    rows: list[dict] = []
    images: list[Image.Image] = []
    for start in range(0, len(jobs), max_batch):
        batch = jobs[start : start + max_batch]
        wanted = [cell_negative_prompt(comparison.columns[c], setting) for c, _ in batch]
        pairs = [(comparison.columns[c].prompt, n if with_negative else "") for (c, _), n in zip(batch, wanted)]
        callback = counter.batch_callback(len(batch), setting.steps)
        if setting.clip_guidance_scale:
            callback = ClipGuidance(
                load_scorer(comparison.guidance_scorer_id), [p for p, _ in pairs], setting.clip_guidance_scale,
                seed=batch[0][1], then=callback,
            )
        began = time.perf_counter()
        try:
            # inference_mode skips autograd bookkeeping (about 5% on CPU); CLIP guidance needs it
            with torch.inference_mode(not setting.clip_guidance_scale):
                output = row_pipe(
                    **model.encoder.kwargs(pairs, with_negative),
                    guidance_scale=setting.guidance_scale,
                    num_inference_steps=setting.steps,
                    generator=[torch.Generator("cpu").manual_seed(seed) for _, seed in batch],
                    width=model.width,
                    height=model.height,
                    **model.family.step_callback(callback),
                    **model.family.call_options(pipe),
                )
        except (torch.OutOfMemoryError, MemoryError) as exc:
            raise _out_of_memory(comparison, len(batch)) from exc
        seconds = (time.perf_counter() - began) / len(batch)
        counter.finish_batch()
        flags = getattr(output, "nsfw_content_detected", None) or [False] * len(batch)
        for (c, seed), (prompt, negative), asked, image, flagged in zip(batch, pairs, wanted, output.images, flags):
            column = comparison.columns[c]
            rows.append({
                "subject": comparison.subject.strip(), "column": c, "row": row_index,
                "template_id": column.template_id, "modality": column.modality, "prompt": prompt, "negative_prompt": negative,
                "setting": setting.label, "setting_key": setting.key,
                "setting_negative_prompt": setting.negative_prompt, "model_id": model.model_id, "scheduler": sampler,
                "steps": setting.steps, "guidance_scale": float(setting.guidance_scale),
                "clip_guidance_scale": float(setting.clip_guidance_scale), "seed": seed,
                "width": image.width, "height": image.height, "seconds": seconds,
                "prompt_ignored": model.encoder.ignored_text(prompt), "negative_ignored": "" if with_negative else asked,
                "image_problem": image_problem(image, bool(flagged)),
            })
            images.append(image)
    return rows, images
