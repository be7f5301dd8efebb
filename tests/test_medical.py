"""Medical evaluation on the tiny models: CLIP guidance, criteria, probe, medical scorer, curated data."""

import numpy as np
import pytest
import torch

from playground import HubUnreachableError, load_scorer, run
from playground.catalog.curated import load_curated
from playground.catalog.templates import load_templates
from playground.comparison import Comparison
from playground.config import BIOMEDCLIP, TINY_MEDICAL_SCORER_ID, TINY_SCORER_ID
from playground.engine.guidance import spherical_distance
from playground.judges.base import Context, Judges
from playground.judges.probe import probe_labels
from playground.judges.rank import best_of_n
from playground.types import Column, GuidanceSetting
from playground.workflow.compare import evaluate

CURATED = load_curated(must_be_clean=True)
PROMPT = "A histopathological image of melanoma"


def guided_grid(steps: int = 10, model_id: str = "tiny-offline") -> Comparison:
    return Comparison(
        "melanoma", [Column(PROMPT, modality="histopathology")],
        [GuidanceSetting(7.5, steps), GuidanceSetting(7.5, steps, clip_guidance_scale=100)],
        images_per_cell=4, guidance_scorer_id=TINY_SCORER_ID, model_id=model_id,
    )


@pytest.mark.parametrize("model_id", ["tiny-offline", "tiny-offline-sdxl"])
def test_clip_guidance_raises_the_guiding_clip_score_on_the_same_seeds(model_id):
    result = run(guided_grid(model_id=model_id))
    frame = result.frame
    assert frame["setting"].tolist()[4:] == ["CFG 7.5 · CLIP guidance 100 · 10 steps · default"] * 4
    scores = np.array(load_scorer(TINY_SCORER_ID).scores(result.images, [PROMPT] * 8))
    plain, guided = scores[:4], scores[4:]
    assert (guided > plain).sum() >= 3 and guided.mean() > plain.mean() + 0.1
    assert frame["seed"].tolist()[:4] == frame["seed"].tolist()[4:]


def test_clip_guided_images_are_reproducible():
    first, second = run(guided_grid(steps=4)), run(guided_grid(steps=4))
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first.images, second.images))


def test_spherical_distance_is_zero_for_equal_and_largest_for_opposite_directions():
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    y = torch.tensor([[2.0, 0.0], [-1.0, 0.0]])
    distance = spherical_distance(x, y)
    assert distance[0] == pytest.approx(0.0, abs=1e-6) and distance[1] == pytest.approx(2 * (torch.pi / 2) ** 2)


@pytest.fixture(scope="module")
def evaluated():
    result = run(Comparison(
        "Graves' disease",
        [load_templates()["histopathology-short"].column("Graves' disease"), Column("Graves' disease")],
        [GuidanceSetting(7.5, 2)], images_per_cell=3,
    ))
    return result, evaluate(result, Judges(TINY_SCORER_ID, TINY_MEDICAL_SCORER_ID), Context(CURATED)).frame


def test_criteria_checklist_matches_clip_zero_shot(evaluated):
    result, frame = evaluated
    scorer = load_scorer(TINY_SCORER_ID)
    criteria = CURATED.criteria_for("histopathology")
    assert len(criteria) >= 3
    embeddings = scorer.embed_images(result.images[:1])
    expected = []
    for criterion in criteria:
        texts = scorer.embed_texts([criterion.present, criterion.absent])
        logits = scorer.model.logit_scale.exp() * embeddings @ texts.T
        expected.append(float(logits.softmax(dim=-1)[0, 0]))
    first = frame.iloc[0]
    assert {g for c in criteria for g in c.require} == {"microscopic-scale"}  # the one gate; it has none
    gate_holds = expected[[c.id for c in criteria].index("microscopic-scale")] > 0.5
    counts = [gate_holds or not c.require for c in criteria]  # where the gate fails, what it gates is left out
    counted = [p for p, count in zip(expected, counts) if count]
    assert first["criteria_score"] == pytest.approx(sum(counted) / len(counted), abs=1e-5)
    assert first["criteria_passed"] == sum(p > 0.5 for p in counted)
    assert [c["id"] for c in first["criteria"]] == [c.id for c in criteria]
    assert [c["p"] for c in first["criteria"]] == pytest.approx(expected, abs=1e-5)
    assert [c["passed"] for c in first["criteria"]] == [p > 0.5 and count for p, count in zip(expected, counts)]
    assert frame.loc[frame["template_id"] == "free", "criteria"].map(len).eq(0).all()  # free prompt: no modality


def test_best_of_n_picks_the_highest_criteria_score_of_each_cell(evaluated):
    _, frame = evaluated
    assert frame.groupby(["row", "column"])["best_of_n"].sum().eq(1).all()
    histology = frame[frame["column"] == 0]
    assert histology.loc[histology["best_of_n"], "criteria_score"].item() == histology["criteria_score"].max()
    free = frame[frame["column"] == 1]  # no criteria: falls back to the CLIP prompt score
    assert free.loc[free["best_of_n"], "clip_prompt"].item() == free["clip_prompt"].max()
    assert best_of_n(frame).equals(frame["best_of_n"])


def test_probe_ranks_subject_confusers_and_styles(evaluated):
    result, frame = evaluated
    labels = probe_labels("Graves' disease", CURATED)
    assert labels[:4] == ["Graves' disease", "a gravestone", "a graveyard", "a tombstone"]
    assert "an x-ray image" in labels and len(labels) == 12
    top3 = frame.iloc[0]["probe_top3"]
    assert len(top3) == 3 and all(seen["label"] in labels for seen in top3)
    probabilities = [seen["p"] for seen in top3]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6


def test_two_scorers_side_by_side(evaluated):
    _, frame = evaluated
    assert frame["medclip_prompt"].between(0, 100).all() and frame["clip_prompt"].between(0, 100).all()
    assert not np.allclose(frame["medclip_prompt"], frame["clip_prompt"])  # a different model


def test_biomedclip_loading_goes_as_far_as_the_download(monkeypatch, closed_port_endpoint):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(HubUnreachableError, match="BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"):
        load_scorer(BIOMEDCLIP)


def test_curated_content_covers_the_study_and_the_teaching_cases():
    assert len(CURATED.confusions) >= 12
    cases = {c.id: c for c in CURATED.confusions}
    assert "a gravestone" in cases["graves-gravestone"].confusers
    assert cases["brain-histology-macroscopic"].modality == "histopathology"
    assert "macroscopic" in cases["brain-histology-macroscopic"].draws
    templates = load_templates()
    for case in CURATED.confusions:  # every case can be reproduced short vs detailed
        assert templates.for_modality(case.modality, "short") and templates.for_modality(case.modality, "detailed")
    study = [s for s in CURATED.subjects if s.study]
    assert len(study) == 17 and all(s.definition for s in study)
    assert {s.field for s in CURATED.subjects} >= {"oncology", "histopathology", "radiology", "dermatology", "endocrinology"}
    assert {s.id for s in CURATED.styles} == {t.modality for t in templates}


def test_a_bad_criteria_entry_is_skipped_with_file_and_line(tmp_path):
    for name in ("confusions", "subjects", "probe"):
        (tmp_path / f"{name}.yaml").write_text("[]\n")
    (tmp_path / "criteria.yaml").write_text(
        "- {id: a, label: A, modalities: [x], present: p, absent: q, question: is it}\n- {id: b, label: B, modalities: [x]}\n"
    )
    curated = load_curated(tmp_path)
    assert [c.id for c in curated.criteria] == ["a"]
    assert curated.problems[0].startswith(f"{tmp_path / 'criteria.yaml'}:2:") and "present" in curated.problems[0]
