"""Checklists with gates: a criterion may `require` another (criteria.yaml); where the gate fails
(P <= 0.5), its children, transitively, are marked skipped and left out of the score and the
passed count, for CLIP's checklist and the vision-language judge's alike, and the enlarged view
shows the checklist as a tree with the skipped ones greyed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from playground.catalog.curated import Criterion, load_curated
from playground.config import TINY_SCORER_ID, TINY_VLM_ID
from playground.errors import PlaygroundError
from playground.judges.base import Context
from playground.judges.criteria import CriteriaJudge, read
from playground.judges.vlm import VlmJudge
from playground.render.grid import checklist_lines, passed
from playground.render.grid_html import checklist

CURATED = load_curated(must_be_clean=True)


def criterion(id: str, *require: str) -> Criterion:
    return Criterion(id=id, label=id.title(), modalities=("x-ray",), present="p", absent="a", question=f"{id}?",
                     require=require)


# grayscale -> chest -> heart, and a criterion without a gate
XRAY = [criterion("text"), criterion("grayscale"), criterion("chest", "grayscale"), criterion("heart", "chest")]


def test_a_failed_gate_skips_its_children_and_leaves_them_out_of_the_score():
    reading = read(XRAY, [0.9, 0.8, 0.2, 0.95])  # chest fails: heart, though 0.95, does not count
    assert reading.skipped == [False, False, False, True]
    assert reading.score == pytest.approx((0.9 + 0.8 + 0.2) / 3)  # the failed gate itself counts
    assert reading.passed == [True, True, False, False]


def test_a_gate_fails_at_one_half_and_its_failure_reaches_the_gates_below_it():
    reading = read(XRAY, [0.9, 0.5, 0.99, 0.99])  # grayscale at exactly 0.5 fails: chest and heart go
    assert reading.skipped == [False, False, True, True]
    assert reading.score == pytest.approx((0.9 + 0.5) / 2) and sum(reading.passed) == 1


def test_when_every_gate_holds_every_criterion_counts():
    reading = read(XRAY, [0.1, 0.6, 0.7, 0.3])
    assert reading.skipped == [False] * 4
    assert reading.score == pytest.approx((0.1 + 0.6 + 0.7 + 0.3) / 4) and reading.passed == [False, True, True, False]


def test_the_curated_checklists_gate_details_behind_what_the_image_is():
    gates = {c.id: c.require for c in CURATED.criteria}
    assert gates["cardiomegaly-heart"] == gates["pneumothorax-edge"] == ("chest-radiograph",)
    assert gates["chest-radiograph"] == gates["bones-visible"] == ("grayscale-radiograph",)
    assert gates["cell-nuclei"] == gates["carcinoma-glands"] == ("microscopic-scale",)
    assert gates["melanoma-asymmetry"] == ("skin-close-up",) and gates["no-text"] == ()


def write_criteria(folder, entries: str) -> None:
    for name in ("confusions", "subjects", "probe", "findings"):
        (folder / f"{name}.yaml").write_text("[]\n")
    (folder / "criteria.yaml").write_text(entries)


ENTRY = "- {{id: {id}, label: {label}, modalities: {modalities}, present: p, absent: a, question: q{require}}}\n"


def entry(id: str, require: str = "", modalities: str = "[x-ray]") -> str:
    return ENTRY.format(id=id, label=id.title(), modalities=modalities,
                        require=f", require: {require}" if require else "")


def test_a_gated_criteria_file_loads_with_one_gate_or_a_list(tmp_path):
    write_criteria(tmp_path, entry("grey") + entry("chest", "grey") + entry("heart", "[chest, grey]"))
    curated = load_curated(tmp_path, must_be_clean=True)
    assert [(c.id, c.require) for c in curated.criteria] == [("grey", ()), ("chest", ("grey",)),
                                                             ("heart", ("chest", "grey"))]


@pytest.mark.parametrize(("entries", "said"), [
    (entry("chest", "grey"), "entry 'chest': field 'require': names no criterion 'grey'"),
    (entry("a", "b") + entry("b", "a"), "gates go round in a cycle (a -> b -> a)"),
    (entry("a", "a"), "gates go round in a cycle (a -> a)"),
    (entry("chest", modalities="[x-ray]") + entry("slice", "chest", "[x-ray, ct]"),
     "entry 'slice': field 'require': its gate 'chest' (modalities ['x-ray'], subjects all) does not apply"),
    ("- {id: chest, label: C, modalities: [x-ray], subjects: [cardiomegaly], present: p, absent: a, question: q}\n"
     + entry("ribs", "chest"), "its gate 'chest' (modalities ['x-ray'], subjects ['cardiomegaly']) does not apply"),
])
def test_an_unknown_gate_a_cycle_or_a_gate_of_other_modalities_is_refused_with_a_sentence(tmp_path, entries, said):
    write_criteria(tmp_path, entries)
    with pytest.raises(PlaygroundError) as refused:
        load_curated(tmp_path, must_be_clean=True)
    assert f"{tmp_path / 'criteria.yaml'}: " in str(refused.value) and said in str(refused.value)


def test_outside_strict_loading_a_bad_gate_skips_its_entry_and_those_it_gates(tmp_path):
    write_criteria(tmp_path, entry("ok") + entry("chest", "gray") + entry("heart", "chest"))
    curated = load_curated(tmp_path)
    assert [c.id for c in curated.criteria] == ["ok"]
    assert [p.split(": field")[0].rsplit(": ", 1)[1] for p in curated.problems] == ["entry 'chest'", "entry 'heart'"]
    assert "its gate 'chest' is skipped" in curated.problems[1]


def noise(seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8))


# "chest" has the same statement for "present" and "absent": CLIP's softmax over the pair is exactly
# 0.5, so it is a gate that fails.
GATED = (entry("text") + entry("heart", "chest") + entry("edge", "heart")
         + "- {id: chest, label: Chest, modalities: [x-ray], present: a chest x-ray, absent: a chest x-ray, "
           "question: q}\n")


@pytest.fixture
def clip_judged(tmp_path) -> pd.Series:
    """CLIP's checklist of one image on a gated criteria file whose gate CLIP answers with 0.5."""
    write_criteria(tmp_path, GATED)
    frame = pd.DataFrame({"modality": ["x-ray"], "subject": ["cardiomegaly"]})
    return CriteriaJudge(TINY_SCORER_ID)(frame, [noise(0)], Context(load_curated(tmp_path, must_be_clean=True))).iloc[0]


def test_clips_checklist_leaves_out_the_children_of_a_failed_gate(clip_judged):
    checks = {c["id"]: c for c in clip_judged["criteria"]}
    assert checks["chest"]["p"] == 0.5 and not checks["chest"]["passed"] and not checks["chest"]["skipped"]
    assert checks["heart"]["skipped"] and checks["edge"]["skipped"]  # its gate failed; and its gate was skipped
    assert not checks["heart"]["passed"] and checks["edge"]["require"] == ["heart"]
    assert clip_judged["criteria_score"] == pytest.approx((checks["text"]["p"] + 0.5) / 2)
    assert clip_judged["criteria_passed"] == int(checks["text"]["p"] > 0.5)


def test_the_checklist_judge_leaves_out_what_a_failed_gate_skips():
    images = [noise(seed) for seed in range(2)]
    frame = pd.DataFrame({"modality": ["x-ray"] * 2, "subject": ["cardiomegaly"] * 2})
    judged = VlmJudge(TINY_VLM_ID)(frame, images, Context(CURATED, device="cpu"))
    for row in judged.itertuples():
        answers = {a["id"]: a for a in row.vlm_checklist}
        assert list(answers) == ["no-text", "grayscale-radiograph", "bones-visible", "chest-radiograph",
                                 "cardiomegaly-heart"]
        grey, chest = (answers[gate]["p_yes"] > 0.5 for gate in ("grayscale-radiograph", "chest-radiograph"))
        expected = {"no-text": False, "grayscale-radiograph": False, "bones-visible": not grey,
                    "chest-radiograph": not grey, "cardiomegaly-heart": not (grey and chest)}
        assert {i: a["skipped"] for i, a in answers.items()} == expected
        counted = [a["p_yes"] for i, a in answers.items() if not expected[i]]
        assert row.vlm_score == pytest.approx(sum(counted) / len(counted))
        depths = [len(line) - len(line.lstrip()) for line in checklist_lines(pd.Series(row._asdict()))[1:]]
        assert depths == [4, 4, 8, 8, 12]  # no-text; grayscale > bones, chest > heart


def test_the_enlarged_view_shows_the_checklist_as_a_tree_with_skipped_ones_greyed(clip_judged):
    html = checklist(clip_judged)
    depths = [int(part.split('"')[0]) for part in html.split('data-depth="')[1:]]
    assert depths == [0, 0, 1, 2]  # text; chest > heart > edge
    assert html.count('class="pg-skipped"') == 2 and "skipped: gate failed" in html.split('class="pg-skipped"')[1]
    heart, edge = (f"{c['p']:.2f}" for c in clip_judged["criteria"][1:3])
    assert checklist_lines(clip_judged)[-2:] == [f"        - – Heart {heart} (skipped: gate failed)",
                                                 f"            - – Edge {edge} (skipped: gate failed)"]
    assert passed(clip_judged) == f"{clip_judged['criteria_passed']}/4"  # a skipped criterion never passes
