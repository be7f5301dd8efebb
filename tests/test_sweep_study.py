"""Research mode: sweeps from a study file (resumable, multi-process), blinded rating sessions,
who may open a run and rate under a name, and what leaves a run in exports."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from playground import schema, stats
from playground.catalog.templates import load_templates
from playground.cli import main
from playground.config import get_settings
from playground.errors import PlaygroundError
from playground.render.export import parse_parameters, read_parameters
from playground.research import access
from playground.research.blind import pseudonyms
from playground.research.study import RatingSession, run_from_result
from playground.research.sweep import load_study, units
from playground.types import MIN_CLIP_GUIDED_STEPS

ROOT = Path(__file__).resolve().parent.parent
QUICK = get_settings().data_dir / "studies" / "glide-replication-quick.yaml"
FULL = get_settings().data_dir / "studies" / "glide-replication.yaml"


def sweep_main(argv: list[str]) -> int:
    return main(["sweep", *argv])


@pytest.fixture(scope="session")
def quick_run() -> Path:
    """The quick study, swept once into the runs folder the Study tab reads."""
    out = get_settings().runs_dir / "quick"
    assert sweep_main([str(QUICK), "--out", str(out)]) == 0
    return out


def test_the_example_study_mirrors_the_original_design():
    study = load_study(FULL)
    assert len(study.subjects) == 34 and len(study.templates) == 8
    assert len(study.subjects) * len(study.templates) == 272
    assert [s.clip_guidance_scale for s in study.settings] == [0.0, 100.0]
    assert "the brain, an organ in the human body, part of the central nervous system" in study.subjects[1]
    prompts = {c.prompt for u in units(study, load_templates()) for c in u.columns}
    assert "A microscopic image of the brain" in prompts and len(prompts) == 272
    reduced = load_study(FULL, reduced=True)
    assert len(reduced.subjects) == 2 and len(reduced.templates) == 2 and [s.steps for s in reduced.settings] == [2, MIN_CLIP_GUIDED_STEPS]  # guided rows keep enough steps


def test_sweep_writes_every_image_and_one_table(quick_run):
    table = pd.read_parquet(quick_run / "results.parquet")
    assert len(table) == 2 * 2 * 2 * 2
    for column in ("subject", "template_id", "setting", "clip_guidance_scale", "seed", "clip_prompt",
                   "criteria_score", "probe_top3", "seconds", "image_file"):
        assert column in table
    assert pd.read_csv(quick_run / "results.csv")["image_file"].tolist() == table["image_file"].tolist()
    first = table.iloc[0]
    parsed = parse_parameters(read_parameters(quick_run / "images" / first["image_file"]))
    assert parsed["prompt"] == first["prompt"] and parsed["Seed"] == str(first["seed"])
    assert not list(quick_run.rglob("*.tmp"))


def test_a_rerun_after_an_interruption_only_redoes_what_is_missing(quick_run, tmp_path):
    out = shutil.copytree(quick_run, tmp_path / "run")
    (out / "parts" / "unit-0001.parquet").unlink()  # as if killed before unit 1 finished
    next(out.glob("images/u0001-*.png")).unlink()
    (out / "results.parquet").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("images/u0000-*.png")}
    assert sweep_main([str(QUICK), "--out", str(out)]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("images/u0000-*.png")} == kept
    assert len(list(out.glob("images/u0001-*.png"))) == 8
    again = pd.read_parquet(out / "results.parquet").drop(columns=["seconds"])
    pd.testing.assert_frame_equal(again, pd.read_parquet(quick_run / "results.parquet").drop(columns=["seconds"]),
                                  check_exact=False, atol=1e-4)


def test_two_processes_under_accelerate_give_the_single_process_table(quick_run, tmp_path):
    out = tmp_path / "two"
    # accelerate's multi-process launcher (torchrun); without a GPU each process joins over gloo on the CPU
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "playground", "sweep", str(QUICK), "--out", str(out)]
    done = subprocess.run(command, check=False, cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "process 1 of 2" in done.stderr and "process 2 of 2" in done.stderr  # two processes shared the units
    merged = pd.read_parquet(out / "results.parquet").drop(columns=["seconds"])
    single = pd.read_parquet(quick_run / "results.parquet").drop(columns=["seconds"])
    # accelerate runs each process on one CPU thread, the single run on two: sums round differently,
    # and CLIP guidance carries that into the images, so scores (0-100) agree to a hundredth.
    structured = [name for name in merged if schema.COLUMNS[name].kind == "list"]  # records: compared number by number
    pd.testing.assert_frame_equal(merged.drop(columns=structured), single.drop(columns=structured), check_exact=False,
                                  atol=1e-2)
    for name in structured:
        for ours, theirs in zip(merged[name], single[name]):
            assert [{k: pytest.approx(v, abs=1e-2) for k, v in r.items()} for r in ours] == list(theirs)


def test_rating_order_is_random_per_rater_and_reproducible(quick_run):
    session = RatingSession(quick_run, seed=7)
    alice, bob = session.order("alice"), session.order("bob")
    assert sorted(alice) == sorted(bob) and len(alice) == 8 and alice != bob
    assert RatingSession(quick_run, seed=7).order("alice") == alice
    assert RatingSession(quick_run, seed=8).order("alice") != alice
    item = session.next_item("alice")
    assert item.key == alice[0] and item.number == 1 and len(item.images) == 2  # 2 seeds per condition
    assert all(path.is_file() for path in item.images)


def test_ratings_are_stored_resumed_replaced_and_checked(quick_run, tmp_path):
    run = shutil.copytree(quick_run, tmp_path / "run")
    for ratings_file in run.glob("ratings.sqlite*"):  # other tests' raters
        ratings_file.unlink()
    session = RatingSession(run, seed=1)
    first = session.next_item("carol")
    session.rate("carol", first.key, 3, 1, best=1)
    resumed = RatingSession(run, seed=1).next_item("carol")
    assert resumed.key != first.key and resumed.number == 2
    session.rate("carol", first.key, 4, 2)  # rating again replaces
    table = session.ratings()
    assert len(table) == 1 and table.iloc[0][["style", "content", "best_image"]].tolist() == [4, 2, ""]
    assert table.iloc[0]["rater"] == pseudonyms(run, ["carol"])["carol"] != "carol"  # the name stays in the database
    assert 0 <= table.iloc[0]["clip_prompt"] <= 100 and table.iloc[0]["modality"] in ("microscopy", "histopathology")
    with pytest.raises(ValueError, match="must be 0, 1, 2, 3 or 4, got 5"):
        session.rate("carol", first.key, 5, 1)
    with pytest.raises(ValueError, match="rater name"):
        session.next_item("  ")
    long = session.long_ratings()
    assert stats.summarize(long)["median"].tolist() == [4.0, 2.0]


def test_a_rater_name_needs_its_key_to_resume_or_rate(quick_run, tmp_path):
    run = shutil.copytree(quick_run, tmp_path / "run", ignore=shutil.ignore_patterns("ratings.sqlite*"))
    session = RatingSession(run, seed=1)
    alice = session.sign_in("Alice Example", None)
    assert alice.new_key and access.KEY.fullmatch(alice.key)
    stored = sqlite3.connect(run / "ratings.sqlite").execute("SELECT rater, key_hash FROM raters").fetchall()
    assert stored == [("Alice Example", access.digest(alice.key))]  # only the key's hash is kept
    assert alice.key.encode() not in b"".join(f.read_bytes() for f in run.glob("ratings.sqlite*"))
    for key in (None, "", access.new_key()):  # someone else typing her name: no progress, no rating
        with pytest.raises(PlaygroundError, match="'Alice Example' is taken in this run"):
            session.sign_in("Alice Example", key)
        with pytest.raises(PlaygroundError, match="is taken"):
            session.signed_in("Alice Example", key)
    with pytest.raises(PlaygroundError, match="rater key must be the 24 letters"):
        session.sign_in("Alice Example", "guess")
    again = RatingSession(run, seed=1).sign_in("Alice Example", alice.key)  # her browser, resuming
    assert again.name == "Alice Example" and not again.new_key
    assert session.signed_in("Alice Example", alice.key) == "Alice Example"
    bob = session.sign_in("Bob", alice.key)  # one browser keeps one key for every name and run
    assert not bob.new_key and bob.key == alice.key
    with pytest.raises(PlaygroundError, match="Start \\(or resume\\) the session first"):
        session.signed_in("Carol", None)
    checked = session.sign_in("Carol", None, register=False)  # the page's check writes nothing
    assert checked.new_key and session.signed_in("Bob", alice.key) == "Bob"
    with pytest.raises(PlaygroundError, match="Start"):
        session.signed_in("Carol", checked.key)
    session.rate("dave", session.next_item("dave").key, 2, 2)  # rated through Python, without a key
    with pytest.raises(PlaygroundError, match="'dave' is taken"):
        session.sign_in("dave", None)  # no key opens a name rated without one


def test_operator_runs_are_listed_for_everyone_and_a_visitors_grid_only_with_its_key(quick_run):
    frame = pd.read_parquet(quick_run / "results.parquet").head(4)
    frame["image_path"] = [str(quick_run / "images" / f) for f in frame["image_file"]]
    key = access.new_key()
    mine = run_from_result(frame, owner_key=key)
    assert "quick" in access.visible_runs() and mine not in access.visible_runs()
    assert mine not in access.visible_runs({mine: access.new_key()}) and mine in access.visible_runs({mine: key})
    assert mine in access.runs()  # the operator's exports read every run
    assert access.open_run(mine, {mine: key}) == get_settings().runs_dir / mine
    for keys in ({}, {mine: access.new_key()}):
        with pytest.raises(PlaygroundError, match="Choose a run to rate from the list"):
            access.open_run(mine, keys)
    with pytest.raises(PlaygroundError, match="Choose a run"):
        access.open_run("../quick", {})
    with pytest.raises(PlaygroundError, match="run key must be the 24 letters"):
        access.checked_keys({mine: "x" * 5})
    assert key not in (get_settings().runs_dir / mine / access.OWNER_FILE).read_text()


def test_exports_name_raters_by_a_pseudonym_never_by_name(quick_run, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLAYGROUND_LIBRARY", str(tmp_path / "home" / "library.sqlite"))
    run = shutil.copytree(quick_run, get_settings().runs_dir / "quick", ignore=shutil.ignore_patterns("ratings.sqlite*"))
    session = RatingSession(run)
    for style in (3, 1):  # two conditions: a best image, and one rated over the other
        item = session.next_item("Alice Example")
        session.rate("Alice Example", item.key, style, style, best=0)
    alias = pseudonyms(run, ["Alice Example"])["Alice Example"]
    assert main(["prefs", "export", "--format", "magic", "--out", str(tmp_path / "magic")]) == 0
    assert main(["prefs", "export", "--format", "dpo", "--out", str(tmp_path / "dpo")]) == 0
    assert (tmp_path / "magic" / "scores" / f"rater-{alias}.json").is_file()
    assert f"rater:{alias}" in pd.read_csv(tmp_path / "magic" / "pairs.csv")["source"].tolist()
    assert f"rater:{alias}" in pd.read_parquet(tmp_path / "dpo" / "parquet" / "train.parquet")["source"].tolist()
    for file in (f for f in tmp_path.rglob("*") if f.is_file() and "home" not in f.parts):
        assert b"Alice" not in file.read_bytes(), file  # not in names, tables, datasets or score files
    assert json.loads((tmp_path / "magic" / "scores" / f"rater-{alias}.json").read_text())


def test_the_report_of_two_raters_gives_krippendorffs_alpha_and_says_when_numbers_mean_little(quick_run, tmp_path):
    run = shutil.copytree(quick_run, tmp_path / "run", ignore=shutil.ignore_patterns("ratings.sqlite*"))
    session = RatingSession(run)
    for rater, ratings in (("ann", [4, 3, 1, 0]), ("ben", [4, 2, 1, 1])):
        for key, rating in zip(sorted(set(session.frame["item"]))[:4], ratings):
            session.rate(rater, key, rating, rating)
    report = session.report()
    assert "Krippendorff's alpha" in report.note and "over 4 condition(s) rated by two or more raters" in report.note
    alpha = pd.read_csv(run / "report" / "raters.csv").set_index("aspect")
    assert alpha["alpha"].between(0, 1).all() and (alpha["raters"] == 2).all()
    assert f"style {alpha.loc['style', 'alpha']:.2f}" in report.note
    experts = report.agreement[report.agreement["comparison"] == "judge vs experts"]
    assert len(experts) and experts["note"].str.startswith("only 8 pairs: the interval is too wide").all()
    assert report.agreement[["judge", "compared_with"]].notna().all().all() and report.agreement["n"].gt(0).all()
