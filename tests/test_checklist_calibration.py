"""Experts answer the checklist too: a run's raters answer yes, no or unsure per criterion; the
report sets each checklist judge's P(yes) against them (AUROC, kappa, ECE, reliability diagrams,
each with n); calibrations fitted on the answers are stored and a later comparison shows the
calibrated P(yes) beside the raw one.

The study here is made by hand so every number is known: six MRI conditions of one image each,
one rater, and set P(yes) values. On "cross-section" the rater says yes, no, yes, yes, no, no to
images the checklist judge gives 0.9, 0.8, 0.7, 0.6, 0.3, 0.1: of the 9 yes/no pairs the yes is
higher in 7 (AUROC 7/9); at 0.5 the judge says yes to the first four (5 of 6 agree, chance 1/2:
kappa 2/3); each P(yes) sits alone in its tenth, |p - answer| averages 2/6 (ECE 1/3); pooling
adjacent violators gives 0 up to 0.3, 2/3 from 0.6 to 0.8 and 1 at 0.9.
"""

from __future__ import annotations

import math
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from playground import GuidanceSetting, compare
from playground import calibration_stats as cs
from playground.cli import main
from playground.config import TINY_SCORER_ID, TINY_VLM_ID, get_settings
from playground.errors import PlaygroundError
from playground.judges import calibration_store
from playground.research import calibration
from playground.research.blind import pseudonyms
from playground.research.study import RatingSession

VLM_P = [0.9, 0.8, 0.7, 0.6, 0.3, 0.1]  # the checklist judge's P(yes) of "cross-section", condition by condition
CLIP_P = [0.6, 0.4, 0.6, 0.6, 0.4, 0.4]  # CLIP's: right at 0.5 every time, far from calibrated
SAID = ["yes", "no", "yes", "yes", "no", "no"]  # the rater's answers to it
SCAN_P = [0.7, 0.2, 0.5, 0.5, 0.5, 0.5]  # the judge on "clinical-scan", answered yes twice, then unsure
VLM_MAP = ((0.1, 0.3, 0.6, 0.8, 0.9), (0.0, 0.0, 2 / 3, 2 / 3, 1.0))  # the isotonic fit, by hand


@pytest.fixture
def calibrations(tmp_path, monkeypatch):
    path = tmp_path / "calibrations.sqlite"
    monkeypatch.setenv("PLAYGROUND_CALIBRATIONS", str(path))  # other tests' comparisons stay uncalibrated
    return path


def made_run(folder) -> RatingSession:
    """Six MRI conditions of one image each with set judge readings, rated by one rater who
    answered the checklist."""
    (folder / "images").mkdir(parents=True)
    rows = []
    for i, (vlm, clip, scan) in enumerate(zip(VLM_P, CLIP_P, SCAN_P)):
        Image.new("RGB", (8, 8), (40 * i, 90, 0)).save(folder / "images" / f"u0000-{i}.png")
        vlm_records = [{"id": c, "question": c, "p_yes": p} for c, p in (("no-text", 0.5), ("cross-section", vlm),
                                                                          ("clinical-scan", scan))]
        clip_records = [{"id": c, "label": c, "p": p, "passed": p > 0.5} for c, p in (("no-text", 0.5),
                        ("cross-section", clip), ("clinical-scan", 0.5))]
        rows.append({"subject": "the brain", "template_id": "mri-short", "modality": "mri", "prompt": f"an MRI, take {i}",
                     "setting": "CFG 4", "setting_key": "k", "image_file": f"u0000-{i}.png",
                     "vlm_score": float(np.mean([r["p_yes"] for r in vlm_records])), "vlm_checklist": vlm_records,
                     "vlm_id": TINY_VLM_ID, "criteria_score": float(np.mean([r["p"] for r in clip_records])),
                     "criteria": clip_records, "clip_scorer": TINY_SCORER_ID})
    pd.DataFrame(rows).to_parquet(folder / "results.parquet", index=False)
    session = RatingSession(folder)
    session.ask_checklist()
    for key in session.order("ada"):
        i = int(session.frame.loc[session.frame["item"] == key, "prompt"].item()[-1])
        session.rate("ada", key, 2, 3, checklist={"no-text": "unsure", "cross-section": SAID[i],
                                                  "clinical-scan": "yes" if i < 2 else "unsure"})
    return session


def test_auroc_kappa_ece_and_the_isotonic_fit_on_a_hand_computed_case():
    labels = [int(a == "yes") for a in SAID]
    assert cs.auroc(labels, VLM_P) == pytest.approx(7 / 9)
    assert cs.cohen_kappa(labels, VLM_P) == pytest.approx(2 / 3)
    assert cs.expected_calibration_error(labels, VLM_P) == pytest.approx(1 / 3)
    assert cs.auroc([1, 0, 1], [0.5, 0.5, 0.9]) == pytest.approx(0.75)  # a tie counts half
    assert math.isnan(cs.auroc([1, 1], [0.2, 0.9])) and math.isnan(cs.cohen_kappa([1, 1], [0.9, 0.8]))
    fitted = cs.isotonic_fit(VLM_P, labels)
    assert fitted.x == pytest.approx(VLM_MAP[0]) and fitted.y == pytest.approx(VLM_MAP[1])
    assert fitted([0.0, 0.2, 0.7, 0.85, 1.0]) == pytest.approx([0, 0, 2 / 3, 5 / 6, 1])  # flat beyond, linear between
    points = cs.reliability([1, 0, 1, 1], [0.05, 0.15, 0.12, 1.0])
    assert points.to_dict("records") == [
        {"bin_low": 0.0, "bin_high": 0.1, "n": 1, "mean_p": 0.05, "observed": 1.0},
        {"bin_low": 0.1, "bin_high": 0.2, "n": 2, "mean_p": pytest.approx(0.135), "observed": 0.5},
        {"bin_low": 0.9, "bin_high": 1.0, "n": 1, "mean_p": 1.0, "observed": 1.0}]  # P(yes) = 1 in the last bin


def test_the_report_gives_auroc_kappa_ece_and_a_reliability_diagram_per_judge_and_criterion(tmp_path):
    session = made_run(tmp_path / "run")
    found = calibration.report(session)
    table = found.table.set_index(["judge", "criterion"])
    assert set(table.index) == {(j, c) for j in ("vlm", "criteria") for c in ("cross-section", "clinical-scan")}  # unsure: no row
    vlm = table.loc[("vlm", "cross-section")]
    assert (vlm["model"], vlm["n"], vlm["n_yes"]) == (TINY_VLM_ID, 6, 3)
    assert (vlm["auroc"], vlm["kappa"], vlm["ece"]) == pytest.approx((7 / 9, 2 / 3, 1 / 3))
    clip = table.loc[("criteria", "cross-section")]
    assert (clip["model"], clip["auroc"], clip["kappa"], clip["ece"]) == (TINY_SCORER_ID, 1.0, 1.0, pytest.approx(0.4))
    scan = table.loc[("vlm", "clinical-scan")]  # yes to 0.7 and to 0.2
    assert (scan["n"], scan["n_yes"], scan["kappa"], scan["ece"]) == (2, 2, 0.0, pytest.approx(0.55))
    assert math.isnan(scan["auroc"]) and "every answer is yes" in scan["note"]
    assert "only 6 answers" in vlm["note"]

    points = found.bins[(found.bins["judge"] == "vlm") & (found.bins["criterion"] == "cross-section")]
    assert points["n"].tolist() == [1] * 6 and points["observed"].tolist() == [0, 0, 1, 1, 0, 1]
    assert [p.name for p in found.plots] == ["reliability-vlm.png", "reliability-criteria.png"]
    for plot in found.plots:
        with Image.open(plot) as image:
            assert image.format == "PNG" and image.width > 300
    written = pd.read_csv(session.run_dir / "report" / "calibration.csv")
    assert len(written) == 4 and set(written.columns) == set(calibration.TABLE_COLUMNS)

    answers = sqlite3.connect(session.run_dir / "ratings.sqlite").execute(
        "SELECT answer, COUNT(*) FROM checklist_answers GROUP BY answer ORDER BY answer").fetchall()
    assert answers == [("no", 3), ("unsure", 10), ("yes", 5)]  # each rating's answers, on real SQLite
    assert "ada" not in set(session.checklist_answers()["rater"])  # raters leave the database by pseudonym


def test_a_checklist_run_refuses_a_rating_without_every_answer(tmp_path):
    session = made_run(tmp_path / "run")
    key = session.order("bob")[0]
    assert [c.id for c in session.questions(key)] == ["no-text", "cross-section", "clinical-scan"]
    for answers, said in (
        (None, "has no answer"),
        ({"no-text": "yes", "cross-section": "maybe", "clinical-scan": "no"}, "must be yes, no or unsure, got 'maybe'"),
        ({"no-text": "yes", "cross-section": "no", "clinical-scan": "no", "nuclei": "yes"}, "'nuclei' is not a checklist"),
    ):
        with pytest.raises(PlaygroundError, match=said):
            session.rate("bob", key, 1, 1, checklist=answers)
    assert len(session.ratings()) == 6  # nothing stored
    session.ask_checklist(False)
    assert session.questions(key) == []
    session.rate("bob", key, 1, 1)  # a run that asks no checklist takes the scale alone


def test_a_stored_calibration_changes_a_later_comparisons_calibrated_column_as_its_map_says(tmp_path, calibrations, capsys):
    run = made_run(tmp_path / "run").run_dir
    arguments = ("the brain", ["mri-short"], [GuidanceSetting(4.0, 2)])
    before = compare(*arguments, images_per_cell=1, vlm_id=TINY_VLM_ID).frame
    assert before["checklist_calibrated"].map(len).eq(0).all()  # nothing stored yet

    assert main(["stats", "calibrate", str(run)]) == 0
    assert "Stored 2 calibration(s)" in capsys.readouterr().out  # cross-section for both judges; clinical-scan is all yes
    stored = calibration_store.latest(calibrations)
    assert set(stored) == {("vlm", TINY_VLM_ID, "cross-section"), ("criteria", TINY_SCORER_ID, "cross-section")}
    assert stored[("vlm", TINY_VLM_ID, "cross-section")].map.x == pytest.approx(VLM_MAP[0])
    assert stored[("criteria", TINY_SCORER_ID, "cross-section")].map.y == pytest.approx((0.0, 1.0))
    assert stored[("vlm", TINY_VLM_ID, "cross-section")].study == "run"

    after = compare(*arguments, images_per_cell=1, vlm_id=TINY_VLM_ID).frame
    for row in after.itertuples():
        records = {(r["judge"], r["id"]): r for r in row.checklist_calibrated}
        raw = {a["id"]: a["p_yes"] for a in row.vlm_checklist}
        vlm = records[("vlm", "cross-section")]
        assert vlm["p"] == raw["cross-section"] and vlm["study"] == "run"
        assert vlm["p_calibrated"] == pytest.approx(float(np.interp(vlm["p"], *VLM_MAP)))
        clip = records[("criteria", "cross-section")]
        assert clip["p_calibrated"] == pytest.approx(float(np.interp(clip["p"], (0.4, 0.6), (0.0, 1.0))))
        assert {criterion for _, criterion in records} == {"cross-section"}  # the others have no calibration


def test_the_study_report_command_prints_the_calibration_table(tmp_path, capsys):
    run = made_run(tmp_path / "run").run_dir
    assert main(["stats", "study", str(run)]) == 0
    said = capsys.readouterr().out
    assert "6 ratings by 1 rater(s)" in said and "cross-section" in said and "auroc" in said
    assert {"calibration.csv", "reliability.csv", "reliability-vlm.png", "agreement.csv"} <= {
        p.name for p in (run / "report").iterdir()}


@pytest.fixture
def shared_run():
    """A hand-made checklist run where the app lists runs, removed afterwards: its table holds only
    what this study needs, and later tests read every run there (the preference export)."""
    run = made_run(get_settings().runs_dir / "checklist-study").run_dir
    yield run
    shutil.rmtree(run, ignore_errors=True)


def test_the_rater_answers_yes_no_or_unsure_per_question_and_reads_the_calibration(page, app_url, shared_run):
    from playwright.sync_api import expect

    from .test_study_browser import open_study, start

    run = shared_run
    open_study(page, app_url)
    start(page, "checklist-study", "eve")
    page.locator("#study-header").get_by_text("Condition 1 of 6").wait_for(timeout=30_000)
    checklist = page.locator("#study-checklist")
    for header in ("Question", "yes", "no", "unsure"):
        expect(checklist.locator(f"th[title={header}]")).to_have_count(1)
    expect(checklist.get_by_text("Is this a clinical medical scan rather than a drawing?")).to_have_count(1)
    expect(checklist.locator("[role=row][data-index]")).to_have_count(3)  # one row per question

    page.locator("#study-style").get_by_text("3: mainly correct").click()
    page.locator("#study-content").get_by_text("2: clear signs of correct").click()
    page.locator("#study-submit").click()  # the checklist left blank: one message, nothing stored
    expect(page.locator(".toast-body")).to_contain_text("Answer every checklist question")
    for row, answer in enumerate((1, 2, 3)):  # yes, no, unsure: the columns after the question
        checklist.get_by_test_id(f"cell-{row}-{answer}").locator("input[type=checkbox]").check()
    page.locator("#study-submit").click()
    page.locator("#study-header").get_by_text("Condition 2 of 6").wait_for(timeout=30_000)
    answers = RatingSession(run).checklist_answers()
    eve = answers[answers["rater"] == pseudonyms(run, ["eve"])["eve"]]
    assert sorted(eve["answer"]) == ["no", "unsure", "yes"]

    page.locator("#study-stats").click()
    table = page.locator("#study-calibration")
    for header in ("Judge", "Criterion", "AUROC", "Kappa at 0.5", "ECE"):
        expect(table.get_by_role("columnheader", name=header, exact=True)).to_have_count(1)
    expect(table.locator("[role=gridcell]").get_by_text("cross-section", exact=True)).to_have_count(2)  # both judges
    expect(page.locator("#study-reliability img")).to_have_count(2)  # one diagram per judge


def test_a_damaged_calibrations_file_is_a_sentence_naming_it(tmp_path):
    from playground.errors import PlaygroundError
    from playground.judges import calibration_store

    damaged = tmp_path / "calibrations.sqlite"
    damaged.write_bytes(b"not a database at all" * 100)
    with pytest.raises(PlaygroundError, match="calibrations.sqlite\\) cannot be read"):
        calibration_store.latest(damaged)
    assert damaged.read_bytes().startswith(b"not a database")  # kept as it was: records are never dropped
