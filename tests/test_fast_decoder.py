"""Drafts: images decoded by a model's tiny decoder (diffusers' AutoencoderTiny, a random-weight
stand-in on the tiny models), labelled as such, cached apart from full images, and decoded in full
on demand; CLIP guidance through the tiny decoder; a model without one refused in a sentence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pytest
from diffusers import AutoencoderTiny

from playground import Column, Comparison, GuidanceSetting, load_pipeline, run
from playground.config import get_settings
from playground.engine.decoders import full_decode
from playground.errors import PlaygroundError
from playground.models.offline import ensure_built
from playground.models.tiny_decoder import load_tiny_decoder

PROMPT = "A dermoscopic photo of melanoma"
PLAIN = GuidanceSetting(4.0, 2)
GUIDED = GuidanceSetting(4.0, 4, clip_guidance_scale=100.0)
DRAFTS = Comparison("melanoma", [Column(PROMPT)], [PLAIN], images_per_cell=2, model_id="tiny-offline", decoder="fast")
WITH_TINY_DECODERS = ["tiny-offline", "tiny-offline-sdxl", "tiny-offline-sd3", "tiny-offline-flux"]


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@contextmanager
def decoder_calls(model_id: str) -> Iterator[dict[str, int]]:
    """How often the model's VAE decoder and its tiny decoder run inside the block."""
    pipe = load_pipeline(model_id)
    calls = {"full": 0, "fast": 0}
    hooks = [module.register_forward_hook(lambda *_, name=name: calls.__setitem__(name, calls[name] + 1))
             for name, module in (("full", pipe.vae.decoder), ("fast", load_tiny_decoder(model_id, pipe).vae.decoder))]
    try:
        yield calls
    finally:
        for hook in hooks:
            hook.remove()


@pytest.mark.parametrize("model_id", WITH_TINY_DECODERS)
def test_a_fast_comparison_draws_drafts_and_a_full_one_full_images(model_id):
    drafts = run(replace(DRAFTS, model_id=model_id))
    full = run(replace(DRAFTS, model_id=model_id, decoder="full"))
    assert drafts.frame["decoder"].tolist() == ["fast", "fast"] and full.frame["decoder"].tolist() == ["full", "full"]
    assert drafts.frame["guidance_decoder"].tolist() == ["", ""]  # no CLIP guidance in this row
    assert [im.size for im in drafts.images] == [im.size for im in full.images]
    assert (drafts.frame["image_problem"] == "").all()
    assert np.abs(pixels(drafts.images[0]) - pixels(full.images[0])).max() > 10  # another decoder, another image


def test_drafts_are_decoded_by_the_tiny_decoder_and_never_by_the_vae():
    with decoder_calls("tiny-offline") as calls:
        run(DRAFTS)
    assert calls == {"full": 0, "fast": 1}  # one batch
    with decoder_calls("tiny-offline") as calls:
        run(replace(DRAFTS, decoder="full"))
    assert calls == {"full": 1, "fast": 0}


def test_guidance_through_the_tiny_decoder_decodes_each_steps_estimate_with_it_and_the_image_with_the_vae():
    guided = replace(DRAFTS, settings=[GUIDED], decoder="full", guidance_decoder="fast",
                     guidance_scorer_id="tiny-offline-clip")
    with decoder_calls("tiny-offline") as calls:
        result = run(guided)
    assert calls == {"full": 1, "fast": GUIDED.steps}
    assert result.frame["guidance_decoder"].tolist() == ["fast", "fast"]


@pytest.fixture
def cache_on(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_IMAGE_CACHE_MB", "64")
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))


def test_a_cached_full_image_is_not_returned_for_a_draft_nor_a_draft_for_a_full_image(cache_on):
    full = run(replace(DRAFTS, decoder="full"))
    drafts, drafts_again = run(DRAFTS), run(DRAFTS)
    full_again = run(replace(DRAFTS, decoder="full"))
    assert drafts.frame["from_cache"].tolist() == [False, False]
    assert drafts_again.frame["from_cache"].tolist() == [True, True] and full_again.frame["from_cache"].all()
    assert drafts_again.frame["decoder"].tolist() == ["fast", "fast"]
    assert np.array_equal(pixels(drafts_again.images[0]), pixels(drafts.images[0]))
    assert np.array_equal(pixels(full_again.images[0]), pixels(full.images[0]))


@pytest.mark.parametrize("setting", [PLAIN, GUIDED], ids=["plain", "clip-guided"])
def test_the_full_decode_of_a_draft_is_the_image_a_full_comparison_draws_with_its_seed(setting):
    drafts = replace(DRAFTS, settings=[setting], guidance_scorer_id="tiny-offline-clip")
    draft = run(drafts).frame.iloc[1]
    decoded = full_decode(drafts, draft)
    full = run(replace(drafts, decoder="full"))  # the seed drawn in a batch with another: the same image
    assert decoded.frame[["row", "column", "seed", "decoder"]].values.tolist() == [[0, 0, draft["seed"], "full"]]
    assert np.abs(pixels(decoded.images[0]) - pixels(full.images[1])).max() <= 2


@pytest.mark.parametrize(("overrides", "message"), [
    ({"model_id": "tiny-offline-sana"}, r"tiny-offline-sana \(Sana\) has no tiny decoder: .* Draw it with the full decoder"),
    ({"model_id": "some-lab/unregistered-sd"}, "not in the model registry .* no tiny decoder is known for it"),
    ({"decoder": "taesd"}, r"`decoder` is 'full' \(the model's VAE\) or 'fast' \(its tiny decoder\), got 'taesd'"),
])
def test_a_draft_of_a_model_without_a_tiny_decoder_is_refused_in_a_sentence(overrides, message):
    with pytest.raises(PlaygroundError, match=message):
        replace(DRAFTS, **overrides).check_inputs()


def test_guidance_through_the_tiny_decoder_is_asked_of_guided_rows_only():
    replace(DRAFTS, model_id="tiny-offline-sana", decoder="full", guidance_decoder="fast").check_inputs()


@pytest.mark.parametrize(("decoder_id", "model_id"), [("tiny-offline-taesd", "tiny-offline-sdxl"),
                                                      ("tiny-offline-taesd3", "tiny-offline-flux")])
def test_the_stand_in_is_an_autoencoder_tiny_saved_as_the_hub_repo_ships_it(decoder_id, model_id):
    folder = ensure_built(decoder_id, get_settings().models_dir)
    assert {p.name for p in folder.iterdir()} == {"config.json", "diffusion_pytorch_model.safetensors"}
    assert json.loads((folder / "config.json").read_text())["_class_name"] == "AutoencoderTiny"
    pipe = load_pipeline(model_id)
    tiny = load_tiny_decoder(model_id, pipe)
    assert isinstance(tiny.vae, AutoencoderTiny) and tiny.id == decoder_id
    assert tiny.vae.config.latent_channels == pipe.vae.config.latent_channels
    assert (tiny.vae.config.scaling_factor, tiny.vae.config.shift_factor) == (1.0, 0.0)  # TAESD's latent API
