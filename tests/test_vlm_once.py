"""The checklist judge reads each image once: the vision tower and the prompt's shared prefix run
once per image, and every question is answered from that prefix's cached keys and values, with
the answers of asking pair by pair. Splitting off shows the judge one frame per image."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from playground import GuidanceSetting, compare, schema
from playground.catalog.curated import load_curated
from playground.config import TINY_VLM_ID
from playground.judges.base import Context
from playground.judges.vlm import VlmJudge
from playground.models.vlm import VisionLanguageModel, load_vlm

CHEST = ["Is the image free of any text, letters or labels?", "Is this a grayscale medical x-ray radiograph?",
         "Are the bones bright white on a dark background, as on a radiograph?",
         "Is this a frontal chest x-ray showing the lungs, the heart and the ribs?",
         "Is the heart shadow enlarged, wider than half of the chest?"]
TISSUE = ["Is this an H&E-stained tissue section with pink cytoplasm and purple nuclei?",
          "Is this a microscope image in which individual cells can be seen?",
          "Does the image show many cells with dark, round nuclei?", "Is the image free of any text, letters or labels?",
          "Does the section show irregular, crowded glands lined by atypical cells with large dark nuclei?"]


@pytest.fixture(scope="module")
def judge() -> VisionLanguageModel:
    return load_vlm(TINY_VLM_ID, "cpu", split_images=True)


def noise(seed: int, size: tuple[int, int] = (64, 64)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def pair_by_pair(judge: VisionLanguageModel, images: list[Image.Image], questions: list[list[str]]) -> list[list[float]]:
    return [judge.p_yes([image] * len(asked), asked) for image, asked in zip(images, questions)]


@contextmanager
def frames_encoded(judge: VisionLanguageModel) -> Iterator[list[int]]:
    """The frames each run of the vision tower (SmolVLMModel.vision_model) encodes, while the block runs."""
    runs: list[int] = []
    handle = judge.model.model.vision_model.register_forward_hook(
        lambda _module, _args, kwargs, _output: runs.append(kwargs["pixel_values"].shape[0]), with_kwargs=True)
    try:
        yield runs
    finally:
        handle.remove()


@pytest.mark.parametrize("batch_size", [8, 2])
def test_one_reading_per_image_gives_the_answers_of_asking_pair_by_pair(judge, batch_size):
    judge = VisionLanguageModel(judge.model_id, judge.model, judge.processor, batch_size=batch_size)
    # Two images of one shape (read together), a narrow one (fewer crops), and other question lists.
    images = [noise(1), noise(2), noise(3, (40, 64)), Image.new("RGB", (64, 64), (200, 40, 90))]
    questions = [CHEST, TISSUE, CHEST, TISSUE[:2] + ["Is this a photograph?"]]
    found = judge.checklist_p_yes(images, questions)
    expected = pair_by_pair(judge, images, questions)
    assert [len(p) for p in found] == [5, 5, 5, 3]
    for got, want in zip(found, expected):
        assert got == pytest.approx(want, abs=1e-5)
    assert judge.checklist_p_yes([noise(4), noise(5)], [[], CHEST])[0] == []


def test_each_question_reads_on_from_a_prefix_that_holds_every_image_token(judge):
    image, image_id = noise(6), judge.model.config.image_token_id
    reading = judge.reading(image, CHEST)
    for question, suffix in zip(CHEST, reading.suffixes, strict=True):
        whole = judge.inputs([image], [question])["input_ids"][0].tolist()  # the processor's own expansion
        assert reading.prefix + suffix == whole and image_id not in suffix
    assert reading.prefix.count(image_id) == 20  # 5 frames of 4 tokens


def test_the_vision_tower_encodes_each_image_once_for_a_five_question_checklist(judge):
    images = [noise(7), noise(8), noise(9)]
    frames = judge.inputs(images[:1], CHEST[:1])["pixel_values"].shape[1]
    with frames_encoded(judge) as once:
        judge.checklist_p_yes(images, [CHEST] * 3)
    with frames_encoded(judge) as per_pair:
        pair_by_pair(judge, images, [CHEST] * 3)
    assert frames == 5 and sum(once) == frames * len(images) and len(once) == 1  # one batch of three images
    assert sum(per_pair) == 5 * frames * len(images)


def test_splitting_off_shows_the_judge_one_frame_with_fewer_image_tokens(judge, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_JUDGE_SPLIT", "off")
    whole = load_vlm(TINY_VLM_ID, "cpu")
    image, image_id = noise(10), judge.model.config.image_token_id

    def frames_and_tokens(model: VisionLanguageModel) -> tuple[int, int]:
        inputs = model.inputs([image], CHEST[:1])
        return inputs["pixel_values"].shape[1], inputs["input_ids"][0].tolist().count(image_id)

    assert frames_and_tokens(judge) == (5, 20) and frames_and_tokens(whole) == (1, 4)
    (found,) = whole.checklist_p_yes([image], [CHEST])
    assert all(0 <= p <= 1 for p in found) and found == pytest.approx(whole.p_yes([image] * 5, CHEST), abs=1e-5)


def test_the_judge_asks_only_what_the_score_cache_lacks_and_scores_as_before(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_IMAGE_CACHE_MB", "64")
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path))  # an empty score cache
    judge = load_vlm(TINY_VLM_ID, "cpu")  # the model the judge loads
    frame = pd.DataFrame({"modality": ["x-ray", "histopathology", "x-ray"],
                          "subject": ["cardiomegaly", "adenocarcinoma", "pneumonia"]})
    images, context, vlm = [noise(11), noise(12), noise(13)], Context(load_curated(), device="cpu"), VlmJudge(TINY_VLM_ID)
    expected = [float(np.mean(p)) for p in pair_by_pair(judge, images, [CHEST, TISSUE, CHEST[:4]])]
    raw = [float(np.mean([a.raw_yes for a in judge.answers([image] * len(asked), asked)]))
           for image, asked in zip(images, [CHEST, TISSUE, CHEST[:4]])]

    vlm(frame.iloc[:1], images[:1], context)  # the first image's answers are cached
    with frames_encoded(judge) as rest:
        scored = vlm(frame, images, context)
    with frames_encoded(judge) as none:
        again = vlm(frame, images, context)
    assert sum(rest) == 2 * 5 and none == []
    assert scored["vlm_score"].tolist() == pytest.approx(expected, abs=1e-5)
    assert again["vlm_score"].tolist() == pytest.approx(expected, abs=1e-5)
    assert again["vlm_raw_yes"].tolist() == pytest.approx(raw, abs=1e-5)  # the cache keeps both readings
    assert scored["vlm_raw_yes"].tolist() == pytest.approx(raw, abs=1e-5)
    assert [[a["question"] for a in row] for row in again["vlm_checklist"]] == [CHEST, TISSUE, CHEST[:4]]


def test_the_raw_p_yes_over_the_whole_vocabulary_is_the_same_on_both_paths_and_below_p_yes(judge):
    images, questions = [noise(14), noise(15, (40, 64))], [CHEST, TISSUE[:3]]
    once = judge.checklist_answers(images, questions)
    alone = [judge.answers([image] * len(asked), asked) for image, asked in zip(images, questions)]
    for got, want in zip(once, alone, strict=True):
        assert [a.raw_yes for a in got] == pytest.approx([a.raw_yes for a in want], abs=1e-5)
        assert [a.p_yes for a in got] == pytest.approx([a.p_yes for a in want], abs=1e-5)
        assert all(0 <= a.raw_yes < a.p_yes <= 1 for a in got)  # the toy model spreads its mass over the vocabulary
    # VQAScore's reading, by hand: the softmax of every logit, at the token SmolVLM2 writes after "Assistant:".
    with torch.no_grad():
        logits = judge.model(**judge.inputs(images[:1], CHEST[:1])).logits[0, -1]
    (yes,) = judge.processor.tokenizer.encode(" Yes", add_special_tokens=False)
    assert once[0][0].raw_yes == pytest.approx(torch.softmax(logits, dim=0)[yes].item(), abs=1e-5)


def test_a_comparison_judged_by_the_checklist_judge_has_the_raw_p_yes_beside_its_score():
    frame = compare("cardiomegaly", ["xray-short"], [GuidanceSetting(4.0, 2)], images_per_cell=1,
                    vlm_id=TINY_VLM_ID).frame
    assert not schema.undeclared(frame) and schema.COLUMNS["vlm_raw_yes"].scale == (0.0, 1.0)
    for row in frame.itertuples():
        assert all(0 <= a["raw_yes"] <= a["p_yes"] <= 1 for a in row.vlm_checklist)
        asked = [a["raw_yes"] for a in row.vlm_checklist if not a["skipped"]]  # the questions vlm_score counts
        assert 0 <= row.vlm_raw_yes <= row.vlm_score and row.vlm_raw_yes == pytest.approx(np.mean(asked), abs=1e-6)
