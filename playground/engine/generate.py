"""A comparison: one subject through several prompts and guidance settings, on the same seeds.

`run()` reads like a diffusers `__call__`: check inputs, load the pipeline once, encode each
distinct prompt once, denoise each settings row in batches (one generator per image, so a seed
gives the same starting noise in every column), and return one table row per image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from diffusers import AutoPipelineForText2Image, StableDiffusionPipeline
from PIL import Image

from .. import schema
from ..comparison import Comparison, ComparisonResult, cell_negative_prompt
from ..config import get_settings
from ..errors import PlaygroundError
from . import schedulers
from .guidance import ClipGuidance
from .models import load_pipeline, load_scorer

ProgressFn = Callable[[int, int], None]


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


def _out_of_memory(comparison: Comparison, batch_size: int) -> PlaygroundError:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    size = f"{comparison.width or 'native'}x{comparison.height or 'native'}"
    return PlaygroundError(
        f"Out of memory while generating a batch of {batch_size} images at {size} pixels. Try a smaller grid: "
        "fewer images per cell, prompt columns or settings rows, or a smaller size."
    )


def run(comparison: Comparison, progress: ProgressFn | None = None) -> ComparisonResult:
    """Generate every image of `comparison`.

    Args:
        comparison: what to generate; checked first.
        progress: called as ``progress(done, total)`` in image-steps (an image denoised one step)
            after every denoising step, so a UI can draw one bar for the whole grid. It runs
            inside the denoising call, so an error it raises is handled as the model's would be.

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
        raise PlaygroundError(f"CLIP guidance needs a Stable Diffusion pipeline; {comparison.model_id!r} is a {type(pipe).__name__}.")
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
                (comparison.columns[c].prompt, cell_negative_prompt(comparison.columns[c], setting)) for c, _ in batch
            ]
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
                    "setting": setting.label, "setting_key": setting.key,
                    "setting_negative_prompt": setting.negative_prompt, "model_id": comparison.model_id, "scheduler": sampler,
                    "steps": setting.steps, "guidance_scale": float(setting.guidance_scale),
                    "clip_guidance_scale": float(setting.clip_guidance_scale), "seed": seed,
                    "width": image.width, "height": image.height, "seconds": seconds,
                    "prompt_ignored": encoder.ignored_text(prompt), "image_problem": image_problem(image, bool(flagged)),
                })
                images.append(image)
    return ComparisonResult(schema.new_frame(rows), images)

