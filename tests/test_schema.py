"""The result schema and setting identity: every column declared once, settings keyed by all fields."""

import hashlib
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from playground import schema
from playground.comparison import Comparison
from playground.config import TINY_MEDICAL_SCORER_ID, TINY_SCORER_ID, TINY_VLM_ID
from playground.engine.generate import run
from playground.render.tables import mean_scores
from playground.research.study import RatingSession, m001_ratings
from playground.research.sweep import Study, sweep
from playground.types import Column, GuidanceSetting
from playground.workflow.compare import Judges, compare_to_folder, evaluate
from playground.workflow.judge_files import collect, judge_files

BLURRY = GuidanceSetting(7.5, steps=2, negative_prompt="blurry")
CARTOON = GuidanceSetting(7.5, steps=2, negative_prompt="cartoon, drawing")


def test_a_settings_key_covers_every_field_and_the_label_is_only_for_people():
    base = GuidanceSetting(7.5, 20)
    assert base.key == GuidanceSetting(7.5, 20).key == GuidanceSetting(7.5, 20, "default", "", 0.0).key
    others = [GuidanceSetting(4.0, 20), GuidanceSetting(7.5, 21), GuidanceSetting(7.5, 20, "Euler"),
              GuidanceSetting(7.5, 20, negative_prompt="blurry"), GuidanceSetting(7.5, 20, clip_guidance_scale=100)]
    assert len({base.key, *(o.key for o in others)}) == 6
    assert BLURRY.label != CARTOON.label and "neg: blurry" in BLURRY.label


def test_every_column_a_comparison_produces_is_declared_and_every_declared_column_is_produced(tmp_path):
    comparison = Comparison("melanoma", [Column("A photo of melanoma", "photo-short", modality="photograph")],
                            [BLURRY], images_per_cell=1)
    judges = Judges(TINY_SCORER_ID, TINY_MEDICAL_SCORER_ID, vlm_id=TINY_VLM_ID)
    saved = compare_to_folder(comparison, judges, tmp_path / "grid")
    with zipfile.ZipFile(saved.zip_path) as archive:
        zipped = pd.read_csv(archive.open("results.csv"))
    study = Study(name="one", subjects=["melanoma"], templates=["photo-short"], settings=[BLURRY], seeds=1,
                  medical_scorer=TINY_MEDICAL_SCORER_ID)
    swept = sweep(study, tmp_path / "run")
    judged = judge_files(collect([saved.folder]), "melanoma", judges).frame  # the app's PNGs judged again
    produced = set(saved.frame.columns) | set(zipped.columns) | set(swept.columns) | set(judged.columns)
    for frame in (saved.frame, zipped, swept, judged):
        assert schema.undeclared(frame) == []
    assert produced == set(schema.COLUMNS)
    assert list(saved.frame.columns[: len(schema.of_step("generate"))]) == schema.of_step("generate")
    assert saved.frame.loc[0, "setting_negative_prompt"] == "blurry"
    assert saved.frame.loc[0, "negative_prompt"].endswith("blurry")  # the template's, then the setting's


def test_an_image_that_is_not_real_blanks_exactly_the_judged_columns():
    column = Column("A histopathological image of melanoma", "histopathology-short", modality="histopathology")
    result = run(Comparison("melanoma", [column], [BLURRY], images_per_cell=2))
    result.frame.loc[0, "image_problem"] = "black image: the model produced NaN or no signal"
    frame = evaluate(result, Judges(TINY_SCORER_ID, TINY_MEDICAL_SCORER_ID)).frame
    judged = {c.name for c in schema.judged(frame)}
    assert {"clip_prompt", "medclip_subject", "criteria", "probe_top3"} <= judged
    assert "negative_prompt" not in judged and "setting_negative_prompt" not in judged
    for name in judged:
        value = frame.loc[0, name]
        assert value is None or value == "" or np.isnan(value)  # a structured column's blank is None
        if name == "finding_score":
            continue  # judges x-ray images only: blank on this histology image too
        assert frame.loc[1, name] != "" and not (isinstance(frame.loc[1, name], float) and np.isnan(frame.loc[1, name]))
    assert frame.loc[0, ["negative_prompt", "setting_negative_prompt"]].tolist() == ["blurry", "blurry"]
    assert not frame.loc[0, "best_in_row"] and frame.loc[1, "best_in_row"]


def test_two_rows_differing_only_in_their_negative_prompt_are_two_keys_two_bars_two_conditions(tmp_path):
    comparison = Comparison("melanoma", [Column("A photo of melanoma")], [BLURRY, CARTOON], images_per_cell=2)
    frame = evaluate(run(comparison), TINY_SCORER_ID).frame
    assert frame.groupby("row")["setting_key"].nunique().tolist() == [1, 1]
    assert frame["setting_key"].nunique() == 2
    bars = mean_scores(frame)
    assert len(bars) == 2 and bars["cell"].nunique() == 2  # the plot draws one bar per distinct x value

    study = Study(name="negatives", subjects=["melanoma"], templates=["photo-short"], settings=[BLURRY, CARTOON],
                  seeds=2)
    sweep(study, tmp_path / "run")
    session = RatingSession(tmp_path / "run")
    assert len(session.order("ann")) == 2
    first = session.next_item("ann")
    session.rate("ann", first.key, 3, 2)
    second = session.next_item("ann")
    assert second is not None and second.key != first.key
    session.rate("ann", second.key, 1, 1)
    ratings = session.ratings()
    assert ratings["setting_key"].nunique() == 2 and session.long_ratings()["subject"].nunique() == 2


def test_a_rating_database_keyed_by_labels_is_migrated_to_setting_keys(tmp_path):
    study = Study(name="old", subjects=["melanoma"], templates=["photo-short"], settings=[BLURRY, CARTOON], seeds=1)
    run_dir = tmp_path / "run"
    table = sweep(study, run_dir)
    old_label = "CFG 7.5 · 2 steps · default · neg"  # how both settings were labelled and keyed before
    old_key = hashlib.sha256(f"{table.loc[0, 'prompt']}\x1f{old_label}".encode()).hexdigest()[:16]
    for made in run_dir.glob("ratings.sqlite*"):  # the sweep's, which keeps the run's order: a database from before
        made.unlink()
    db = sqlite3.connect(run_dir / "ratings.sqlite", isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    m001_ratings(db)
    db.execute("INSERT INTO _migrations VALUES ('m001_ratings', 'then')")
    shown = table.loc[table["setting_negative_prompt"] == "cartoon, drawing", "image_file"].iloc[0]
    db.execute("INSERT INTO ratings VALUES ('bob', ?, 4, 3, '', ?, 'then')", (old_key, shown))
    db.close()

    session = RatingSession(run_dir)
    ratings = session.ratings()
    assert len(ratings) == 1 and ratings.loc[0, "style"] == 4
    assert ratings.loc[0, "ordering"] == "random"  # ratings from before orders were recorded: all random
    assert ratings.loc[0, "setting_key"] == CARTOON.key
    rated = session.frame.loc[session.frame["image_file"] == shown, "item"].item()
    assert session.next_item("bob").key != rated  # bob resumes after the condition he rated
    check = sqlite3.connect(run_dir / "ratings.sqlite")
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # the same settings as the library
    migrations = [r[0] for r in check.execute("SELECT name FROM _migrations")]
    assert migrations == ["m001_ratings", "m002_items_keyed_by_setting", "m003_rater_keys", "m004_rating_order",
                          "m005_checklist_answers"]


def test_the_readme_documents_every_column_from_the_declaration():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert schema.markdown_table() in readme
