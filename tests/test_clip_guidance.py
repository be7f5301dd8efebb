"""CLIP guidance as classifier guidance on the model's prediction, checked for every sampler the UI
offers. These hold on random weights: they test the maths that real weights would expose (a
step pushed after the last one, a sigma^2 step on latents that are not sigma-scaled)."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest
import torch
from diffusers import AutoPipelineForText2Image
from PIL import Image

from playground import load_pipeline, load_scorer, run
from playground.comparison import Comparison
from playground.config import TINY_PIPELINE_ID, TINY_SCORER_ID
from playground.engine import schedulers
from playground.engine.guidance import ClipGuidance
from playground.errors import PlaygroundError
from playground.models.tiny_decoder import load_tiny_decoder
from playground.samplers import names
from playground.types import MIN_CLIP_GUIDED_STEPS, Column, GuidanceSetting

PROMPT = "A histopathological image of melanoma"
SEEDS = list(range(8))
STEPS = 6
DEFAULT_SCALE = 100.0  # the community pipeline's default, and the app's


def draw(sampler: str, scale: float | None, steps_seen: list | None = None) -> tuple[np.ndarray, list[torch.Tensor]]:
    """The tiny SD model's images for SEEDS (and its latents after every step), guided at `scale`
    (None: the guidance is not attached at all)."""
    pipe = load_pipeline(TINY_PIPELINE_ID)
    row = AutoPipelineForText2Image.from_pipe(pipe, scheduler=schedulers.make(sampler, pipe.scheduler))
    row.set_progress_bar_config(disable=True)
    latents: list[torch.Tensor] = []

    def record(_pipe, _step, _timestep, kwargs):
        latents.append(kwargs["latents"].detach().clone())
        return kwargs

    steering = nullcontext() if scale is None else ClipGuidance(
        load_scorer(TINY_SCORER_ID), [PROMPT] * len(SEEDS), scale, row.vae).steering(row.scheduler)
    with steering:
        images = row(prompt=[PROMPT] * len(SEEDS), num_inference_steps=STEPS, guidance_scale=7.5,
                     generator=[torch.Generator("cpu").manual_seed(s) for s in SEEDS],
                     callback_on_step_end=record, output_type="np").images
    return images, latents


def test_scale_zero_draws_bit_identical_images_to_no_guidance():
    plain, _ = draw("Euler", None)
    zero, _ = draw("Euler", 0.0)
    assert np.array_equal(plain, zero)


@pytest.fixture(scope="module")
def drawn() -> dict:
    """Each sampler's plain and guided draws, made once for the tests below."""
    return {}


def plain_and_guided(drawn: dict, sampler: str) -> tuple:
    if sampler not in drawn:
        drawn[sampler] = draw(sampler, None), draw(sampler, DEFAULT_SCALE)
    return drawn[sampler]


@pytest.mark.parametrize("sampler", names())
def test_guided_images_score_higher_on_the_guiding_clip_for_every_sampler(drawn, sampler):
    (plain, _), (guided, _) = plain_and_guided(drawn, sampler)
    scorer = load_scorer(TINY_SCORER_ID)

    def scores(images: np.ndarray) -> np.ndarray:
        pictures = [Image.fromarray((image * 255).round().astype("uint8")) for image in images]
        return np.array(scorer.scores(pictures, [PROMPT] * len(pictures)))

    gain = scores(guided) - scores(plain)  # the same seeds, image by image
    assert np.median(gain) > 0, (sampler, gain)


@pytest.mark.parametrize("sampler", names())
def test_a_guided_step_moves_the_latents_a_small_multiple_of_the_samplers_own_step(drawn, sampler):
    (_, plain), (_, guided) = plain_and_guided(drawn, sampler)

    def moves(latents: list[torch.Tensor]) -> np.ndarray:
        return np.array([(b - a).flatten(1).norm(dim=1).max().item() for a, b in zip(latents, latents[1:])])

    assert (moves(guided) <= 2 * moves(plain)).all(), (sampler, moves(guided), moves(plain))


def test_guidance_on_a_row_of_too_few_steps_is_refused_in_a_sentence():
    grid = Comparison("melanoma", [Column(PROMPT)], [GuidanceSetting(0.0, MIN_CLIP_GUIDED_STEPS - 1, clip_guidance_scale=100)],
                      images_per_cell=1, model_id=TINY_PIPELINE_ID, guidance_scorer_id=TINY_SCORER_ID)
    with pytest.raises(PlaygroundError, match=f"CLIP guidance needs at least {MIN_CLIP_GUIDED_STEPS} denoising steps"):
        run(grid)


def test_guided_ancestral_sampling_draws_the_same_images_again(drawn):
    """The sampler's own noise still comes from the row's seeds (the guided step keeps its signature)."""
    _, (guided, _) = plain_and_guided(drawn, "Euler a")
    again, _ = draw("Euler a", DEFAULT_SCALE)
    assert np.array_equal(guided, again)


def score_gain(plain: list[Image.Image], guided: list[Image.Image]) -> np.ndarray:
    """The guiding CLIP's score of each guided image minus that of the plain one of its seed."""
    scorer = load_scorer(TINY_SCORER_ID)
    return (np.array(scorer.scores(guided, [PROMPT] * len(guided)))
            - np.array(scorer.scores(plain, [PROMPT] * len(plain))))


def test_drafts_guided_through_the_tiny_decoder_score_higher_on_the_guiding_clip():
    """Guidance through the tiny decoder, which also decodes the image (a guided draft)."""
    def drafts(scale: float) -> list[Image.Image]:
        grid = Comparison("melanoma", [Column(PROMPT)], [GuidanceSetting(7.5, STEPS, clip_guidance_scale=scale)],
                          images_per_cell=len(SEEDS), model_id=TINY_PIPELINE_ID, guidance_scorer_id=TINY_SCORER_ID,
                          decoder="fast", guidance_decoder="fast")
        return run(grid).images

    gain = score_gain(drafts(0.0), drafts(DEFAULT_SCALE))
    assert np.median(gain) > 0, gain


def test_scale_zero_through_the_tiny_decoder_draws_bit_identical_images_to_no_guidance():
    pipe = load_pipeline(TINY_PIPELINE_ID)
    tiny = load_tiny_decoder(TINY_PIPELINE_ID, pipe).vae
    row = AutoPipelineForText2Image.from_pipe(pipe, scheduler=schedulers.make("Euler", pipe.scheduler), vae=tiny)
    row.set_progress_bar_config(disable=True)

    def images(steering) -> np.ndarray:
        with steering:
            return row(prompt=[PROMPT] * 2, num_inference_steps=STEPS, guidance_scale=7.5, output_type="np",
                       generator=[torch.Generator("cpu").manual_seed(s) for s in SEEDS[:2]]).images

    zero = ClipGuidance(load_scorer(TINY_SCORER_ID), [PROMPT] * 2, 0.0, tiny, seed=SEEDS[:2])
    assert np.array_equal(images(nullcontext()), images(zero.steering(row.scheduler)))
