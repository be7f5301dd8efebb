"""The medical judges on their tiny stand-ins: domain CLIPs routed by modality (open_clip and
transformers loaders), the confusion warning before generating, and the scorer registry."""

from __future__ import annotations

import time

import pytest
import torch
from PIL import Image

from playground import (
    Column,
    GuidanceSetting,
    HubUnreachableError,
    compare,
    load_scorer,
)
from playground.catalog.curated import load_curated
from playground.catalog.scorers import load_scorers
from playground.catalog.templates import load_templates
from playground.config import DEFAULT_JUDGE, TINY_VLM_ID, get_settings
from playground.judges.confusion import confusion_warnings
from playground.models.hf_clip import HfClip
from playground.models.offline import ensure_built
from playground.models.vlm import load_vlm
from playground.models.xray import RANDOM_ID

HISTOLOGY_AND_XRAY = ["histopathology-short", "xray-short"]


@pytest.fixture(scope="module")
def cardiomegaly():
    return compare("cardiomegaly", HISTOLOGY_AND_XRAY, [GuidanceSetting(4.0, 2)], images_per_cell=2,
                   vlm_id=TINY_VLM_ID)


def test_each_image_gets_the_domain_scorer_of_its_modality(cardiomegaly):
    frame = cardiomegaly.frame
    scorers = frame.groupby("template_id")["domain_scorer"].agg(set).to_dict()
    assert scorers == {"histopathology-short": {"tiny-offline-hf-clip"}, "xray-short": {"tiny-offline-medclip"}}
    assert frame["domain_score"].between(0, 100).all() and frame["clip_prompt"].notna().all()


def test_the_judge_answers_every_checklist_question_beside_clip(cardiomegaly):
    frame, curated = cardiomegaly.frame, load_curated()
    assert frame["vlm_score"].between(0, 1).all() and set(frame["vlm_id"]) == {TINY_VLM_ID}
    for row in frame.itertuples():
        criteria = curated.criteria_for(row.modality, row.subject)
        answers = row.vlm_checklist
        assert [a["question"] for a in answers] == [c.question for c in criteria]
        assert [a["id"] for a in answers] == [c["id"] for c in row.criteria]  # beside CLIP's reading of the same criteria
        p_yes = [a["p_yes"] for a in answers]
        counted = [a["p_yes"] for a in answers if not a["skipped"]]  # those a failed gate skips are left out
        assert all(0 <= p <= 1 for p in p_yes) and row.vlm_score == pytest.approx(sum(counted) / len(counted), abs=1e-6)
    xray = frame[frame["modality"] == "x-ray"]
    assert any("Is the heart shadow enlarged" in a["question"] for answers in xray["vlm_checklist"] for a in answers)


def test_the_xray_images_get_the_probability_of_the_finding_their_prompt_names(cardiomegaly):
    frame = cardiomegaly.frame
    xray, histology = frame[frame["modality"] == "x-ray"], frame[frame["modality"] != "x-ray"]
    assert set(xray["finding"]) == {"Cardiomegaly"} and xray["finding_score"].between(0, 1).all()
    assert set(xray["finding_model"]) == {RANDOM_ID}
    assert set(histology["finding"]) == {""} and histology["finding_score"].isna().all()


def test_p_yes_is_the_softmax_of_the_yes_and_no_logits():
    judge = load_vlm(TINY_VLM_ID)
    image, question = Image.new("RGB", (64, 64), (120, 30, 60)), "Is this a grayscale medical x-ray radiograph?"
    prompt = judge.processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
        add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<end_of_utterance>\nAssistant:")
    inputs = judge.processor(text=[prompt], images=[[image]], return_tensors="pt")
    with torch.no_grad():
        logits = judge.model(**inputs).logits[0, -1]
    yes = judge.processor.tokenizer.encode(" Yes", add_special_tokens=False)[0]
    no = judge.processor.tokenizer.encode(" No", add_special_tokens=False)[0]
    expected = torch.softmax(torch.stack([logits[yes], logits[no]]), dim=0)[0].item()
    answers = judge.p_yes([image, Image.new("RGB", (40, 64), "white")], [question, "Is this a photograph?"])
    assert answers[0] == pytest.approx(expected, abs=1e-5)  # batched with another pair, as the judge runs


def test_a_pinned_domain_scorer_scores_every_image():
    frame = compare("cardiomegaly", HISTOLOGY_AND_XRAY, [GuidanceSetting(4.0, 2)], images_per_cell=1,
                    domain_scorer_id="tiny-offline-medclip").frame
    assert set(frame["domain_scorer"]) == {"tiny-offline-medclip"}
    off = compare("cardiomegaly", HISTOLOGY_AND_XRAY, [GuidanceSetting(4.0, 2)], images_per_cell=1,
                  domain_scorer_id=None).frame
    assert "domain_score" not in off.columns


def test_the_transformers_loader_scores_as_the_model_itself_computes():
    from transformers import CLIPModel, CLIPProcessor

    scorer = load_scorer("tiny-offline-hf-clip")
    assert isinstance(scorer.model, HfClip)
    image, text = Image.new("RGB", (64, 64), (180, 60, 120)), "an H&E image of cardiomegaly"
    folder = ensure_built("tiny-offline-hf-clip", get_settings().models_dir)
    model, processor = CLIPModel.from_pretrained(folder), CLIPProcessor.from_pretrained(folder)
    with torch.no_grad():
        inputs = processor(text=[text], images=[image], return_tensors="pt", padding=True)
        image_features = model.get_image_features(pixel_values=inputs.pixel_values).pooler_output
        text_features = model.get_text_features(input_ids=inputs.input_ids).pooler_output
    cosine = torch.nn.functional.cosine_similarity(image_features, text_features).item()
    assert scorer.scores([image], [text])[0] == pytest.approx(100 * max(cosine, 0), abs=1e-3)


@pytest.mark.parametrize(("load", "model_id"), [
    (load_scorer, "vinid/plip"), (load_scorer, "hf-hub:wisdomik/QuiltNet-B-32"), (load_vlm, DEFAULT_JUDGE),
])
def test_a_registered_hub_scorer_or_judge_fails_fast_with_the_offline_hint_when_the_hub_is_down(
    load, model_id, monkeypatch, silent_endpoint
):
    monkeypatch.setenv("HF_ENDPOINT", silent_endpoint)
    monkeypatch.setenv("PLAYGROUND_HUB_TIMEOUT", "1")
    began = time.perf_counter()
    with pytest.raises(HubUnreachableError, match="PLAYGROUND_OFFLINE=1"):
        load(model_id)
    assert time.perf_counter() - began < 5


def test_restricted_scorers_are_off_on_a_public_space_unless_allowed(monkeypatch):
    registry = load_scorers()
    assert registry.problems == ()
    assert registry.route("illustration", offline=False, allow_restricted=True).startswith("hf-hub:microsoft/BiomedCLIP")
    monkeypatch.setenv("SPACE_ID", "someone/playground")
    assert registry.route("illustration", offline=False) is None
    assert "vinid/plip" not in registry.offered(offline=False)
    monkeypatch.setenv("PLAYGROUND_ALLOW_RESTRICTED", "1")
    assert "vinid/plip" in registry.offered(offline=False)


def test_a_prompt_nearer_a_confuser_than_its_subject_is_warned_with_a_rewording():
    columns = [Column("a gravestone"), Column("Graves' disease", modality="photograph")]
    warnings = confusion_warnings("Graves' disease", columns, "tiny-offline-clip", load_curated(), load_templates())
    assert len(warnings) == 1 and warnings[0].startswith("Column 1's prompt reads closer to \"a gravestone\"")
    assert "Try the detailed wording" in warnings[0]
    assert confusion_warnings("melanoma", columns, "tiny-offline-clip", load_curated(), load_templates()) == []
