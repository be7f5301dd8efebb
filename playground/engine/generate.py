"""A comparison: one subject through several prompts, guidance settings and models, on the same seeds.

`run()` reads like a diffusers `__call__`: check inputs, then for each model load its pipeline
once (through the cache), encode each distinct text once in the way its family needs, denoise
each row in batches (one generator per image, so a seed gives the same starting noise in every
column), and return one table row per image.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, NamedTuple

import pandas as pd
import torch
from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image
from PIL import Image

from .. import schema
from ..comparison import Comparison, ComparisonResult, Decoder
from ..config import get_settings
from ..errors import PlaygroundError
from ..models import families
from ..models import registry as model_registry
from ..models.loading import load, load_pipeline, load_scorer
from ..models.tiny_decoder import TinyDecoder, load_tiny_decoder
from ..types import Capabilities, Column, GuidanceSetting, cell_negative_prompt
from . import schedulers, throughput
from .guidance import ClipGuidance
from .image_cache import ImageCache, cache_key
from .previews import previewer
from .progress import ProgressFn, StepCounter


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


def stream(comparison: Comparison, progress: ProgressFn | None = None, cached_only: bool = False) -> Iterator[ComparisonResult]:
    """Generate every image of `comparison`, yielding each batch as soon as it is decoded.

    Args:
        comparison: what to generate; checked first.
        progress: called as ``progress(done, total, what)`` in image-steps (an image denoised
            one step) after every denoising step, so a UI can draw one bar for the whole grid,
            across models, `what` saying it in words (see `progress.StepCounter`); and as ``progress(bytes_done, bytes_total, "Downloading <model>")`` while a
            model's files download on its first use. It runs inside the denoising call, so an
            error it raises is handled as the model's would be.
        cached_only: yield only the images found in the image cache and draw none (a link that
            reopens a grid shows it from the cache, or says how much is missing).

    Yields:
        `ComparisonResult` chunks: a model's images found in the disk cache first (one chunk, so
        an edited grid shows its unchanged cells at once), then each batch drawn. Nothing more is drawn once the caller stops asking (a UI's Stop).
    """
    # 1. Check inputs
    comparison.check_inputs(get_settings())
    n_cells = len(comparison.columns) * comparison.images_per_cell
    counter = StepCounter(sum(s.steps for _, s in comparison.rows) * n_cells, len(comparison.rows) * n_cells, progress)
    cache = ImageCache.configured()
    row_index = 0
    try:
        for model_id in comparison.models:
            # 2. Load the pipeline once (cached across requests); refuse what this model cannot honour
            model = _Model.load(model_id, comparison, progress)
            settings = comparison.settings_of(model_id)
            for number, setting in enumerate(settings, start=row_index + 1):
                setting.check_for(model.honours, f"Row {number}")
            # 3. Its rows' images found in the cache, all at once; then denoise the rest, row by row
            #    (each distinct text is encoded once, shared by all of them)
            rows = [_row(comparison, model, setting, index, counter, cache)
                    for index, setting in enumerate(settings, start=row_index)]
            row_index += len(settings)
            if cached := [found for found, _ in rows if found is not None]:
                yield joined(cached)
            for _, drawing in [] if cached_only else rows:
                yield from drawing
    finally:
        if cache:
            cache.evict()


def run(comparison: Comparison, progress: ProgressFn | None = None) -> ComparisonResult:
    """Every image of `comparison` (see `stream`), ordered by row (model, then setting), then
    column, then seed."""
    return joined(list(stream(comparison, progress)))


def joined(chunks: Sequence[ComparisonResult]) -> ComparisonResult:
    """Chunks as one result in grid order: row, column, seed (a chunk may come from the cache
    before the batches drawn around it)."""
    if not chunks:
        return ComparisonResult(schema.new_frame([]), [])
    frame = pd.concat([c.frame for c in chunks], ignore_index=True)
    images = [image for c in chunks for image in c.images]
    order = frame.sort_values(["row", "column", "seed"], kind="stable").index
    return ComparisonResult(frame.loc[order].reset_index(drop=True), [images[i] for i in order])


@dataclass
class _Model:
    """One model of a comparison, ready to draw: its pipeline and family, what it honours, the
    size it draws at (the comparison's, else its registered native size, else the pipeline's
    default), its prompt encoder, shared by its rows, and its tiny decoder where the comparison
    uses it."""

    model_id: str
    pipe: Any
    revision: str
    family: families.Family
    honours: Capabilities
    encoder: _PromptEncoder
    width: int | None
    height: int | None
    tiny: TinyDecoder | None = None

    def vae(self, decoder: Decoder):
        """The decoder a comparison's `decoder` or `guidance_decoder` names: the VAE, or the tiny one."""
        return self.tiny.vae if decoder == "fast" else self.pipe.vae

    def _decoder_key(self, decoder: Decoder) -> str:
        return f"{self.tiny.id}@{self.tiny.revision}" if decoder == "fast" else "full"

    def image_key(self, comparison: Comparison, setting: GuidanceSetting, prompt: str, negative: str, seed: int) -> str:
        """The cache key of one image: every input that determines it (a draft's and a full
        image's differ by their decoder)."""
        guided = bool(setting.clip_guidance_scale)
        return cache_key(
            model=self.model_id, revision=self.revision, device=self.pipe.device.type,
            dtype=str(self.pipe.dtype), prompt=prompt, negative=negative, guidance=float(setting.guidance_scale),
            steps=setting.steps, scheduler=setting.scheduler, clip_guidance=float(setting.clip_guidance_scale),
            guided_by=comparison.guidance_scorer_id if guided else "", seed=seed, width=self.width, height=self.height,
            decoder=self._decoder_key(comparison.decoder),
            guidance_decoder=self._decoder_key(comparison.guidance_decoder) if guided else "",
        )

    @classmethod
    def load(cls, model_id: str, comparison: Comparison, progress: ProgressFn | None) -> _Model:
        loaded = load(model_id, on_download=_download_reporter(model_id, progress))
        family = families.of_pipeline(loaded.pipe)
        card = model_registry.card(model_id)
        return cls(
            model_id, loaded.pipe, loaded.revision, family, model_registry.capabilities(model_id, family.name),
            _PromptEncoder(loaded.pipe, family),
            comparison.width or (card.width if card else None), comparison.height or (card.height if card else None),
            load_tiny_decoder(model_id, loaded.pipe) if comparison.needs_tiny_decoder(model_id) else None,
        )


def _download_reporter(model_id: str, progress: ProgressFn | None) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(done, total, f"Downloading {model_id} (its first use)")


class Drawn(NamedTuple):
    """One image of a row and how it came: seconds of its batch per image, from the cache or not,
    flagged by the safety checker or not."""

    image: Image.Image
    seconds: float
    from_cache: bool
    flagged: bool = False


def _row(
    comparison: Comparison, model: _Model, setting: GuidanceSetting, row_index: int, counter: StepCounter,
    cache: ImageCache | None,
) -> tuple[ComparisonResult | None, Iterator[ComparisonResult]]:
    """One grid row: (its images found in the cache, as one chunk, or None; the chunks still to
    draw, lazily, each batch of at most PLAYGROUND_MAX_BATCH through one pipeline view with its
    own fresh scheduler)."""
    jobs = [(c, seed) for c in range(len(comparison.columns)) for seed in comparison.seeds]
    with_negative = setting.negative_honoured(model.honours)
    wanted = [cell_negative_prompt(comparison.columns[c], setting) for c, _ in jobs]
    pairs = [(comparison.columns[c].prompt, n if with_negative else "") for (c, _), n in zip(jobs, wanted)]
    keys = [model.image_key(comparison, setting, prompt, negative, seed) for (prompt, negative), (_, seed) in zip(pairs, jobs)]
    scheduler = schedulers.make(setting.scheduler, model.pipe.scheduler)
    sampler = schedulers.label(scheduler)

    def chunk(drawn: dict[int, Drawn]) -> ComparisonResult:
        rows: list[dict] = []
        for i, (image, seconds, from_cache, flagged) in sorted(drawn.items()):
            (c, seed), (prompt, negative) = jobs[i], pairs[i]
            problem = image_problem(image, flagged)
            if cache and not from_cache and not problem:
                cache.put(keys[i], image)
            column = comparison.columns[c]
            rows.append({
                "subject": comparison.subject.strip(), "column": c, "row": row_index,
                "template_id": column.template_id, "modality": column.modality, "variant": column.variant,
                "subgroup": column.subgroup,
                "prompt": prompt,
                "negative_prompt": negative, "setting": setting.label, "setting_key": setting.key,
                "setting_negative_prompt": setting.negative_prompt, "model_id": model.model_id, "scheduler": sampler,
                "steps": setting.steps, "guidance_scale": float(setting.guidance_scale),
                "clip_guidance_scale": float(setting.clip_guidance_scale), "seed": seed,
                "width": image.width, "height": image.height, "seconds": seconds, "from_cache": from_cache,
                "prompt_ignored": model.encoder.ignored_text(prompt), "negative_ignored": "" if with_negative else wanted[i],
                "image_problem": problem, "decoder": comparison.decoder,
                "guidance_decoder": comparison.guidance_decoder if setting.clip_guidance_scale else "",
            })
        return ComparisonResult(schema.new_frame(rows), [d.image for _, d in sorted(drawn.items())])

    found = {i: Drawn(image, 0.0, from_cache=True) for i, key in enumerate(keys)
             if cache and (image := cache.get(key)) is not None}
    counter.advance(len(found) * setting.steps, len(found))
    todo = [i for i in range(len(jobs)) if i not in found]
    drawing = (chunk(batch) for batch in _draw(comparison, model, setting, row_index, scheduler, todo, jobs, pairs,
                                                    counter))
    return (chunk(found) if found else None), drawing


def _draw(
    comparison: Comparison, model: _Model, setting: GuidanceSetting, row_index: int, scheduler, todo: list[int],
    jobs: list[tuple[int, int]], pairs: list[tuple[str, str]], counter: StepCounter,
) -> Iterator[dict[int, Drawn]]:
    """Denoise and decode the jobs `todo` of grid row `row_index` in batches, yielding each batch's
    images by job (live previews of long rows go to the progress callback: engine/previews.py)."""
    if not todo:
        return
    max_batch = max(1, get_settings().max_batch)
    pipe = model.pipe
    row_pipe = AutoPipelineForText2Image.from_pipe(pipe, scheduler=scheduler, vae=model.vae(comparison.decoder))
    row_pipe.set_progress_bar_config(disable=True)
    with_negative = setting.negative_honoured(model.honours)
    for start in range(0, len(todo), max_batch):
        batch = todo[start : start + max_batch]
        batch_pairs = [pairs[i] for i in batch]
        cells = [(row_index, jobs[i][0], jobs[i][1]) for i in batch]
        callback = counter.batch_callback(len(batch), setting.steps, previewer(
            counter.progress, model.model_id, pipe, row_pipe.scheduler, cells, setting.steps))
        steering = nullcontext()
        if setting.clip_guidance_scale:
            steering = ClipGuidance(
                load_scorer(comparison.guidance_scorer_id), [p for p, _ in batch_pairs], setting.clip_guidance_scale,
                model.vae(comparison.guidance_decoder), seed=[jobs[i][1] for i in batch],
            ).steering(row_pipe.scheduler)
        began = time.perf_counter()
        try:
            # inference_mode skips autograd bookkeeping (about 5% on CPU); CLIP guidance needs it
            with torch.inference_mode(not setting.clip_guidance_scale), steering:
                output = row_pipe(
                    **model.encoder.kwargs(batch_pairs, with_negative),
                    guidance_scale=setting.guidance_scale,
                    num_inference_steps=setting.steps,
                    generator=[torch.Generator("cpu").manual_seed(jobs[i][1]) for i in batch],
                    width=model.width,
                    height=model.height,
                    **model.family.step_callback(callback),
                    **model.family.call_options(pipe),
                )
        except (torch.OutOfMemoryError, MemoryError) as exc:
            raise _out_of_memory(comparison, len(batch)) from exc
        elapsed = time.perf_counter() - began
        seconds = elapsed / len(batch)
        counter.finish_batch()
        image = output.images[0]
        throughput.record(model.model_id, pipe.device.type, bool(setting.clip_guidance_scale), image.width * image.height,
                          len(batch) * setting.steps, elapsed)
        flags = getattr(output, "nsfw_content_detected", None) or [False] * len(batch)
        yield {i: Drawn(image, seconds, from_cache=False, flagged=bool(flagged))
               for i, image, flagged in zip(batch, output.images, flags)}


def check_image_to_image(model_id: str) -> None:
    """Refuse, in a sentence, a model whose family has no image-to-image pipeline."""
    family = families.of_pipeline(load_pipeline(model_id))
    if not family.image_to_image:
        raise PlaygroundError(f"{model_id} ({family.title}) cannot refine an image: diffusers has no image-to-image "
                              "pipeline for its family. Refine on an SD, SDXL, SD3 or FLUX model.")


def image_to_image(
    model_id: str, image: Image.Image, prompt: str, negative: str, setting: GuidanceSetting, seeds: Sequence[int],
    strength: float, progress: ProgressFn | None = None,
) -> list[Image.Image]:
    """Candidates drawn from `image` by image-to-image (diffusers' AutoPipelineForImage2Image,
    sharing the loaded model's components), one per seed, in one batch: the refine step.

    `strength` is the share of the schedule re-run (MAGIC samples at 0.3): the image is noised to
    that point and denoised with `prompt`. At least one step runs: the schedule is lengthened to
    ceil(1 / strength) steps where `setting.steps` is shorter.
    """
    if not 0 < strength <= 1:
        raise PlaygroundError(f"The refine strength must be above 0 and at most 1, got {strength}.")
    comparison = Comparison("refine", [Column(prompt)], [setting], model_id=model_id, width=image.width,
                            height=image.height)
    model = _Model.load(model_id, comparison, progress)
    check_image_to_image(model_id)
    setting.check_for(model.honours, "The refine setting")
    with_negative = setting.negative_honoured(model.honours)
    pipe = AutoPipelineForImage2Image.from_pipe(model.pipe, scheduler=schedulers.make(setting.scheduler, model.pipe.scheduler))
    pipe.set_progress_bar_config(disable=True)
    steps = max(setting.steps, math.ceil(1 / strength))
    counter = StepCounter(len(seeds) * int(steps * strength), len(seeds), progress, noun="candidates")
    with torch.inference_mode():
        output = pipe(
            **model.encoder.kwargs([(prompt, negative if with_negative else "")] * len(seeds), with_negative),
            image=[image.convert("RGB")] * len(seeds), strength=strength, num_inference_steps=steps,
            guidance_scale=setting.guidance_scale, generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
            **model.family.step_callback(counter.batch_callback(len(seeds), int(steps * strength))),
            **model.family.call_options(model.pipe),
            **_input_size(pipe, image),
        )
    counter.finish_batch()
    return list(output.images)


def _input_size(pipe, image: Image.Image) -> dict:
    """The input image's size, for the image-to-image pipelines that take one (SD3's and FLUX's draw
    at 1024x1024 and resize the input to it otherwise); SD's and SDXL's keep the input's size."""
    taken = inspect.signature(pipe.__call__).parameters
    return {"height": image.height, "width": image.width} if "height" in taken and "width" in taken else {}
