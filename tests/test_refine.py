"""MAGIC's loop on the tiny models: refinement keeps its score from falling and stores lineage, the
prompt search never ends below its start, and both preference exports read back."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
from datasets import load_dataset, load_from_disk

from playground import GuidanceSetting
from playground.catalog.curated import load_curated
from playground.catalog.templates import load_templates
from playground.cli import main
from playground.config import get_settings
from playground.errors import PlaygroundError
from playground.judges.base import Judges
from playground.research.blind import pseudonyms
from playground.research.prefs import export, pairs
from playground.research.study import RatingSession, run_from_result
from playground.stores.arena_votes import Pair, open_arena
from playground.stores.library import Library, prefer
from playground.stores.records import content_hash
from playground.workflow.compare import compare
from playground.workflow.prompt_search import MUTATIONS, mutate, search
from playground.workflow.refine import Start, feedback, refine, step_record, why_stopped

JUDGES = Judges("tiny-offline-clip", vlm_id="tiny-offline-vlm")


@pytest.fixture(scope="module")
def start() -> Start:
    return Start.drawn("melanoma", "photo-detailed", "tiny-offline", load_templates(), seed=3)


def test_feedback_adds_failed_criteria_to_the_prompt_and_confusers_to_the_negative():
    curated = load_curated()
    failed = curated.criteria_for("histopathology", "Graves' disease")[:2]
    advice = feedback("Graves' disease", failed, curated)
    assert advice.add == tuple(c.present for c in failed)
    assert set(curated.confusers_of("Graves' disease")) <= set(advice.avoid)
    assert advice.prompt("An H&E slide").startswith("An H&E slide, ") and failed[0].present in advice.prompt("x")
    assert advice.negative("") == ", ".join(dict.fromkeys(advice.avoid))


def test_refine_never_lowers_the_kept_score_and_stores_lineage(start, tmp_path, fresh_library):
    trajectories = list(refine(start, JUDGES, rounds=3, candidates=2, folder=tmp_path))
    final = trajectories[-1]
    assert list(final.columns)[:5] == ["round", "candidate", "seed", "strength", "prompt"]
    kept = final[final["kept"]]
    assert kept["round"].tolist() == sorted(kept["round"]) and kept["round"].iloc[0] == 0
    assert kept["checklist_score"].is_monotonic_increasing  # the kept score never goes down
    assert set(final["checklist_column"]) == {"vlm_score"} and set(final["checklist_by"]) == {"tiny-offline-vlm"}
    candidates = final[final["round"] > 0]
    assert len(candidates) >= 2 and (candidates["seed"] >= 1000).all() and (candidates["strength"] == 0.3).all()
    first_round = candidates[candidates["round"] == 1]
    assert (first_round["parent"] == content_hash(start.row)).all()  # drawn from the start image
    assert (tmp_path / "trajectory.csv").is_file()
    assert pd.read_csv(tmp_path / "trajectory.csv")["image_path"].map(lambda p: (tmp_path / p).exists()
                                                                     or p.startswith(str(tmp_path))).all()
    step = first_round.iloc[0]
    logged = prefer(step_record(start, step), "refined")
    record = Library().get(logged.id)
    assert (record["parent"], record["refine_round"], record["strength"]) == (step["parent"], 1, 0.3)
    assert record["content_hash"] == step["record_hash"]
    assert record["prompt"] == step["prompt"] and record["scores"]["vlm_score"] == pytest.approx(step["checklist_score"])


def test_without_a_checklist_judge_refine_scores_and_stores_clips_criteria_score(start, tmp_path, fresh_library):
    *_, final = refine(start, Judges("tiny-offline-clip"), rounds=1, candidates=1, folder=tmp_path)
    assert set(final["checklist_column"]) == {"criteria_score"} and set(final["checklist_by"]) == {"tiny-offline-clip"}
    record = Library().get(prefer(step_record(start, final.iloc[-1]), "").id)
    assert record["scores"] == {"criteria_score": pytest.approx(final.iloc[-1]["checklist_score"])}  # never vlm_score


def test_refine_refuses_what_it_cannot_refine(start):
    with pytest.raises(PlaygroundError, match="1 to 10 rounds"):
        next(refine(start, JUDGES, rounds=0))
    free = Start({**start.row, "modality": "", "template_id": "free"}, start.image)
    with pytest.raises(PlaygroundError, match="expert criteria"):
        next(refine(free, JUDGES))


def test_refine_is_refused_on_a_family_without_image_to_image():
    pixart = Start.drawn("melanoma", "photo-detailed", "tiny-offline-pixart", load_templates())
    with pytest.raises(PlaygroundError, match="cannot refine an image"):
        list(refine(pixart, JUDGES, rounds=1, candidates=1))


def test_the_refine_command_writes_images_and_the_trajectory(tmp_path, fresh_library, capsys):
    out = tmp_path / "refined"
    status = main(["refine", "--subject", "melanoma", "--template", "photo-detailed", "--model", "tiny-offline",
                   "--judge", "tiny-offline-vlm", "--rounds", "2", "--candidates", "2", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    trajectory = pd.read_csv(out / "trajectory.csv")
    assert {"round", "candidate", "prompt", "checklist_score", "kept"} <= set(trajectory.columns)
    assert len(list(out.glob("round*.png"))) == len(trajectory)
    assert "kept checklist score (vlm_score by tiny-offline-vlm)" in capsys.readouterr().out


def test_mutations_change_the_prompt_in_each_declared_way():
    curated, rng = load_curated(), random.Random(0)
    prompt = "A photograph of Graves' disease, a thyroid disorder, close-up, clinical photo"
    seen = {mutate(prompt, "Graves' disease", "photograph", curated, rng)[1] for _ in range(200)}
    assert seen == set(MUTATIONS)
    swapped = {mutate(prompt, "Graves' disease", "photograph", curated, random.Random(i)) for i in range(100)}
    assert any(name == "synonym" and "Basedow's disease" in new for new, name in swapped)


def test_the_prompt_search_ends_at_or_above_its_start_and_reports_one_progress(tmp_path, fresh_library):
    reports = []
    found = search("melanoma", "photo-short", "tiny-offline", JUDGES, budget=10, folder=tmp_path,
                   progress=lambda *report: reports.append(report))
    done, totals = [d for d, _, _ in reports], {t for _, t, _ in reports}
    assert done == sorted(done) and len(totals) == 1 and done[-1] == totals.pop()  # one bar: it never restarts
    assert reports[-1][2] == "14 of 14 images of the search done"  # 10 searched, 2 x 2 held out
    assert found.best_score >= found.start_score
    history = found.history
    assert history["images"].iloc[-1] <= 10 and history["kept"].iloc[0]
    assert history.loc[history["kept"], "score"].is_monotonic_increasing
    assert found.best_prompt == history.loc[history["kept"], "prompt"].iloc[-1]
    record = Library().get(found.record_id)
    assert record["prompt"] == found.best_prompt and "held-out seeds 1000, 1001" in record["note"]
    assert (tmp_path / "search.csv").is_file()


@pytest.fixture
def preferences(tmp_path, fresh_library, monkeypatch):
    """A library with votes, an Arena vote and a rated run: each source of pairs once."""
    result = compare("psoriasis", ["photo-short", "photo-detailed"], [GuidanceSetting(4.0, 2)], images_per_cell=2,
                     vlm_id="tiny-offline-vlm", folder=tmp_path / "grid")
    first, second = result.frame.iloc[0].to_dict(), result.frame.iloc[2].to_dict()
    prefer(first, "")
    prefer(first, "")  # two votes
    prefer(second, "")  # one vote: first is preferred
    rows = result.frame
    open_arena().vote(Pair("template", "photograph", "psoriasis", "tiny-offline", rows["setting"][0], 0,
                           "photo-short", "photo-detailed", rows["prompt"][0], rows["prompt"][2],
                           rows["image_path"][0], rows["image_path"][2]), "right")
    name = run_from_result(result.frame)
    session = RatingSession(get_settings().runs_dir / name)
    item = session.next_item("ari")
    session.rate("ari", item.key, 3, 3, best=1)
    other = session.next_item("ari")
    session.rate("ari", other.key, 1, 1)
    return result


def test_pairs_come_from_every_source(preferences):
    found = pairs()
    sources = {p.source for p in found}
    ari = {f"rater:{pseudonyms(Path(p.image_0).parents[1], ['ari'])['ari']}" for p in found if p.source.startswith("rater:")}
    assert {"arena", "library"} <= sources and sources & ari and any(s.startswith("judge:") for s in sources)
    assert "rater:ari" not in sources  # raters leave a run by pseudonym (research/blind.py)
    arena = next(p for p in found if p.source == "arena")
    assert arena.image_0 == preferences.frame["image_path"][2] and arena.caption == "psoriasis"
    best = [p for p in found if p.source in ari and p.score_0 == 1.0]
    assert len(best) == 1  # the image marked best over the other one shown
    assert all(0 <= p.score_1 <= p.score_0 <= 1 for p in found)


def test_the_dpo_export_loads_with_datasets(preferences, tmp_path):
    out, count = export("dpo", tmp_path / "dpo")
    dataset = load_from_disk(str(out))
    assert dataset.column_names == ["caption", "jpg_0", "jpg_1", "label_0", "source", "subject"]
    assert len(dataset) == count == len(pairs()) and set(dataset["label_0"]) == {1}
    assert dataset[0]["jpg_0"][:8] == b"\x89PNG\r\n\x1a\n"
    parquet = load_dataset(str(out / "parquet"), split="train")  # what diffusers' DPO script reads
    assert len(parquet) == count and parquet[0]["caption"] == dataset[0]["caption"]


def test_the_magic_export_has_one_score_file_per_source(preferences, tmp_path):
    out, count = export("magic", tmp_path / "magic")
    files = sorted((out / "scores").glob("*.json"))
    found = pairs()
    assert {f.stem for f in files} == {s.replace(":", "-") for s in {p.source for p in found}}
    for file in files:
        scores = json.loads(file.read_text())
        assert len(scores) == count and all(len(s) == 2 for s in scores)
    assert len(json.loads((out / "prompt.json").read_text())) == count
    images = json.loads((out / "image.json").read_text())
    assert images[0] == ["images/00000.png", "images/00001.png"] and (out / "images" / "00001.png").is_file()
    with pytest.raises(PlaygroundError, match="magic or dpo"):
        export("csv", tmp_path / "x")


@pytest.mark.parametrize("model_id", ["tiny-offline-sd3", "tiny-offline-flux", "tiny-offline"])
def test_image_to_image_keeps_the_input_images_size(model_id):
    """SD3's and FLUX's image-to-image pipelines would draw at their default size and resize the input."""
    from PIL import Image

    from playground.engine.generate import image_to_image
    from playground.models.registry import model_preset

    setting = model_preset(model_id).settings[0]
    start = Image.new("RGB", (96, 64), "white")
    (candidate,) = image_to_image(model_id, start, "a photo of melanoma", "", setting, [0], strength=0.5)
    assert candidate.size == (96, 64)


def steps(*rounds: tuple[int, bool]) -> pd.DataFrame:
    """A trajectory of (round, kept) steps, scores rising with each kept one."""
    return pd.DataFrame([{"round": r, "kept": k, "checklist_score": 0.1 * (i + 1), "criteria_passed": i}
                         for i, (r, k) in enumerate(rounds)])


@pytest.mark.parametrize(("trajectory", "rounds", "said"), [
    (steps((0, True), (1, False), (1, False)), 3, "Stopped after round 1: no candidate beat the kept image"),
    (steps((0, True), (1, True), (2, True)), 2, "Ran all 2 round(s)"),
    (steps((0, True), (1, False), (1, True)), 4, "Stopped after round 1: every criterion passes"),
    (steps((0, True)), 2, "Nothing to refine: every criterion passes already"),
])
def test_refine_says_why_it_stopped(trajectory, rounds, said):
    assert why_stopped(trajectory, rounds).startswith(said)
    assert f"scores {trajectory[trajectory['kept']]['checklist_score'].iloc[-1]:.3f}" in why_stopped(trajectory, rounds)
