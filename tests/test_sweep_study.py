"""Research mode: sweeps from a study file (resumable, multi-process), blinded rating sessions."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from playground import schema, stats
from playground.catalog.templates import load_templates
from playground.cli import main
from playground.config import get_settings
from playground.render.export import parse_parameters, read_parameters
from playground.research.study import RatingSession, list_runs
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
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "playground", "sweep", str(QUICK), "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
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
    assert 0 <= table.iloc[0]["clip_prompt"] <= 100 and table.iloc[0]["modality"] in ("microscopy", "histopathology")
    with pytest.raises(ValueError, match="must be 0, 1, 2, 3 or 4, got 5"):
        session.rate("carol", first.key, 5, 1)
    with pytest.raises(ValueError, match="rater name"):
        session.next_item("  ")
    long = session.long_ratings()
    assert stats.summarize(long)["median"].tolist() == [4.0, 2.0]


def test_runs_are_listed_for_the_study_tab(quick_run):
    assert "quick" in list_runs()
