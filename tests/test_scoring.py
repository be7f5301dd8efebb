"""CLIP scores: torchmetrics' convention, equal to a direct open_clip computation."""

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from playground import TINY_SCORER_ID, add_clip_scores, load_scorer, run
from playground.comparison import Comparison
from playground.config import get_settings
from playground.models.clip_model import ClipScorer
from playground.models.offline import ensure_built
from playground.types import Column, GuidanceSetting


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(5)]


TEXTS = ["A photo of melanoma", "An x-ray image of the lungs", "Graves' disease", "a gravestone", "the brain"]


def test_scores_match_open_clip_computed_directly(images):
    model_name = f"local-dir:{ensure_built(TINY_SCORER_ID, get_settings().models_dir)}"  # the stand-in's files
    model, _, preprocess = open_clip.create_model_and_transforms(model_name)
    tokenizer = open_clip.get_tokenizer(model_name)
    model.eval()
    with torch.no_grad():
        image_features = model.encode_image(torch.stack([preprocess(im) for im in images]))
        text_features = model.encode_text(tokenizer(TEXTS))
    cosine = torch.nn.functional.cosine_similarity(image_features, text_features)
    expected = (100 * cosine.clamp(min=0)).tolist()

    ours = load_scorer(TINY_SCORER_ID).scores(images, TEXTS)
    assert ours == pytest.approx(expected, abs=1e-3)
    assert all(isinstance(v, float) and 0 <= v <= 100 for v in ours)
    assert sum(v > 0 for v in ours) >= 3  # the tiny CLIP gives non-trivial scores


def test_text_embeddings_are_cached_and_batching_does_not_change_them():
    scorer = load_scorer(TINY_SCORER_ID)
    together = scorer.embed_texts(TEXTS)
    alone = torch.stack([scorer.embed_texts([t])[0] for t in TEXTS])
    assert torch.allclose(together, alone, atol=1e-6)
    encoded: list[str] = []

    def tokenizer(texts):  # open_clip's tokenizer, counting what it is asked to encode
        encoded.extend(texts)
        return scorer.tokenizer(texts)

    counting = ClipScorer("counting", scorer.model, scorer.preprocess, tokenizer, scorer.device, scorer.input_dtype)
    first = counting.embed_texts(TEXTS)
    again = counting.embed_texts([*TEXTS[:2], TEXTS[0]])
    assert encoded == TEXTS  # each distinct text encoded once, the second call read them all back
    assert torch.equal(again, torch.stack([first[0], first[1], first[0]]))


def test_scores_are_added_per_image_for_prompt_and_subject():
    result = run(Comparison("melanoma", [Column("A photo of melanoma")], [GuidanceSetting(7.5, 2)], images_per_cell=3))
    scored = add_clip_scores(result, load_scorer(TINY_SCORER_ID))
    scorer = load_scorer(TINY_SCORER_ID)
    assert scored.frame["clip_prompt"].tolist() == pytest.approx(
        scorer.scores(result.images, ["A photo of melanoma"] * 3), abs=1e-4
    )
    assert scored.frame["clip_subject"].tolist() == pytest.approx(scorer.scores(result.images, ["melanoma"] * 3), abs=1e-4)
    assert "clip_prompt" not in result.frame  # the input result is left as it was


def test_a_scorer_id_of_the_wrong_form_is_explained():
    with pytest.raises(ValueError, match="ARCH/TAG"):
        load_scorer("ViT-B-32")
