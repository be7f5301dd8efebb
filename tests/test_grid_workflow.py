"""The grid's workflow on the tiny models: streaming batches, the score cache, Prompt S/R, re-running
one cell with new seeds, the Arena's pairs, the Educators' pictures and a rating run made from a grid."""

from __future__ import annotations

import random
import sqlite3
import zipfile

import numpy as np
import pytest
from PIL import Image

from playground import Column, Comparison, GuidanceSetting, run
from playground.catalog.curated import load_curated
from playground.catalog.templates import load_templates
from playground.config import get_settings
from playground.engine.generate import stream
from playground.errors import PlaygroundError
from playground.judges.base import Context, Judges
from playground.judges.score_cache import ScoreCache, digest
from playground.research.study import RatingSession, run_from_result
from playground.workflow.arena_pairs import draw_pair, modalities
from playground.workflow.compare import evaluate, rerun_cell, stream_to_folder
from playground.workflow.confusion_gallery import draw, draw_in_background, drawn
from playground.workflow.prompt_sr import expand, parse

SCORER = "tiny-offline-clip"
GRID = Comparison("melanoma", [Column("A photo of melanoma"), Column("An H&E slide of melanoma")],
                  [GuidanceSetting(4.0, 2), GuidanceSetting(7.0, 2)], images_per_cell=2, model_id="tiny-offline",
                  guidance_scorer_id=SCORER)


def test_stream_yields_each_batch_and_draws_no_more_once_dropped(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_BATCH", "2")
    steps: list[int] = []
    chunks = stream(GRID, lambda done, total, *_: steps.append(done))
    first = next(chunks)
    assert len(first.frame) == 2 and steps[-1] == 2 * 2  # one batch of 2 images x 2 steps, of 8 x 2
    chunks.close()  # a Stop: the generator is dropped
    assert steps[-1] == 4
    whole = run(GRID)
    streamed = list(stream(GRID))
    assert [len(c.frame) for c in streamed] == [2, 2, 2, 2]
    assert np.array_equal(np.asarray(whole.images[-1]), np.asarray(streamed[-1].images[-1]))


def test_stream_to_folder_saves_after_every_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_BATCH", "4")
    sizes = []
    for saved in stream_to_folder(GRID, SCORER, tmp_path / "grid"):
        with zipfile.ZipFile(saved.zip_path) as archive:
            sizes.append(len([n for n in archive.namelist() if n.startswith("r") and n.endswith(".png")]))
        assert (tmp_path / "grid" / "grid.png").is_file() and saved.frame["clip_prompt"].notna().all()
    assert sizes == [4, 8]  # a Stop after the first batch keeps its 4 images, in the ZIP
    assert saved.frame["best_in_row"].sum() == 2  # ranked over the whole grid, one per row


def test_the_score_cache_returns_stored_readings_and_computes_only_the_missing(tmp_path):
    cache = ScoreCache(tmp_path / "scores.sqlite")
    asked: list[list[int]] = []

    def compute(at: list[int]) -> list[np.ndarray]:
        asked.append(at)
        return [np.full(3, float(i)) for i in at]

    first = cache.readings("clip:a", ["x", "y"], compute)
    again = cache.readings("clip:a", ["y", "z", "x"], compute)
    other = cache.readings("clip:b", ["x"], compute)
    assert asked == [[0, 1], [1], [0]]  # z is new; scorer b has its own readings
    assert [v.tolist() for v in again] == [[1.0] * 3, [1.0] * 3, [0.0] * 3]
    assert first[0].tolist() == again[2].tolist() and other[0].tolist() == [0.0] * 3


def test_judging_the_same_images_again_reads_the_score_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_IMAGE_CACHE_MB", "64")
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    judged = Comparison.from_templates("melanoma", ["photo-short", "histopathology-short"], load_templates(),
                                       settings=[GuidanceSetting(4.0, 2)], model_id="tiny-offline",
                                       guidance_scorer_id=SCORER)
    drawn_grid = run(judged)
    first = evaluate(drawn_grid, Judges(SCORER, vlm_id="tiny-offline-vlm"))
    path = tmp_path / "home" / "cache" / "scores.sqlite"
    with sqlite3.connect(path) as db:
        counts = dict(db.execute("SELECT substr(judge, 1, instr(judge, ':')), COUNT(*) FROM readings GROUP BY 1"))
    assert counts["clip:"] >= 4  # one embedding per image and CLIP (the general one, the domain ones)
    assert counts["judge-answers:"] >= 4  # one answer (P(yes) and raw P("Yes")) per image and checklist question
    second = evaluate(run(judged), Judges(SCORER, vlm_id="tiny-offline-vlm"))
    for column in ("clip_prompt", "domain_score", "criteria_score", "vlm_score", "probe_top3"):
        assert first.frame[column].tolist() == second.frame[column].tolist()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM readings").fetchone()[0] == sum(counts.values())  # nothing new
    assert digest(drawn_grid.images[0]) == digest(Image.fromarray(np.asarray(drawn_grid.images[0])))


def test_prompt_sr_makes_one_column_per_term():
    column = Column("An H&E stained slide of melanoma, H&E", "histopathology-short", modality="histopathology")
    columns = expand(column, "H&E, immunohistochemistry, \"Masson's trichrome\"")
    assert [c.prompt for c in columns] == [
        "An H&E stained slide of melanoma, H&E", "An immunohistochemistry stained slide of melanoma, immunohistochemistry",
        "An Masson's trichrome stained slide of melanoma, Masson's trichrome"]
    assert [c.variant for c in columns] == ["H&E", "immunohistochemistry", "Masson's trichrome"]
    assert {c.template_id for c in columns} == {"histopathology-short"}
    frame = run(Comparison("melanoma", columns, [GuidanceSetting(4.0, 1)], images_per_cell=1,
                           model_id="tiny-offline")).frame
    assert frame["variant"].tolist() == ["H&E", "immunohistochemistry", "Masson's trichrome"]


@pytest.mark.parametrize(("spec", "message"), [
    ("H&E", "at least one replacement"), ("a, b, c, d, e", "at most 4"), ("a, a", "must differ"),
])
def test_prompt_sr_refuses_what_cannot_be_an_axis(spec, message):
    with pytest.raises(PlaygroundError, match=message):
        parse(spec)
    with pytest.raises(PlaygroundError, match="does not occur"):
        expand(Column("A photo of melanoma"), "H&E, Masson's trichrome")


def test_rerun_cell_redraws_only_that_cell_with_new_seeds(tmp_path):
    *_, saved = stream_to_folder(GRID, SCORER, tmp_path / "grid")
    *_, again = rerun_cell(GRID, saved, row=1, column=0, judges=SCORER)
    frame = again.frame
    cell = (frame["row"] == 1) & (frame["column"] == 0)
    assert sorted(frame[cell]["seed"]) == [2, 3]  # after the grid's highest seed, 1
    assert frame[~cell]["image_path"].tolist() == saved.frame[~cell]["image_path"].tolist()
    assert all(p.endswith(("s2.png", "s3.png")) for p in frame[cell]["image_path"])
    assert again.folder == saved.folder and frame["best_in_row"].sum() == 2
    with zipfile.ZipFile(again.zip_path) as archive:
        assert {"r2-c1-s2.png", "r2-c1-s3.png", "grid.png"} <= set(archive.namelist())
    with pytest.raises(PlaygroundError, match="no cell at row 3"):
        next(rerun_cell(GRID, saved, row=2, column=0, judges=SCORER))


def test_an_arena_pair_is_two_templates_on_one_subject_seed_and_setting(tmp_path):
    templates, curated = load_templates(), load_curated()
    modality = modalities(templates)[0]
    pair = draw_pair(modality, ["tiny-offline"], templates, curated, rng=random.Random(3), folder=tmp_path)
    assert pair.left != pair.right and {pair.left, pair.right} <= {t.id for t in templates if t.modality == modality}
    assert pair.model_id == "tiny-offline" and pair.subject in {s.subject for s in curated.subjects}
    for path in (pair.left_image, pair.right_image):
        with Image.open(path) as image:
            assert f"Seed: {pair.seed}," in image.info["parameters"]
    models = draw_pair(modality, ["tiny-offline", "tiny-offline-sdxl"], templates, curated, kind="model",
                       rng=random.Random(3), folder=tmp_path)
    assert {models.left, models.right} == {"tiny-offline", "tiny-offline-sdxl"} and models.left_prompt == models.right_prompt
    with pytest.raises(PlaygroundError, match="choose two or more models"):
        draw_pair(modality, ["tiny-offline"], templates, curated, kind="model")


def test_educators_pictures_are_drawn_once_per_model():
    curated, templates = load_curated(), load_templates()
    cases = curated.confusions[:2]
    pictures = list(draw(cases, "tiny-offline", SCORER, templates, Context(curated)))
    assert [p.case.id for p in pictures] == [c.id for c in cases]
    assert all(p.path.is_file() and p.caption.startswith(p.case.subject) and "CLIP sees:" in p.caption
               for p in pictures)
    stamp = pictures[0].path.stat().st_mtime_ns
    assert drawn(cases[0], "tiny-offline") == pictures[0] and drawn(cases[0], "tiny-offline-sdxl") is None
    assert list(draw(cases[:1], "tiny-offline", SCORER, templates, Context(curated))) == pictures[:1]
    assert pictures[0].path.stat().st_mtime_ns == stamp  # read, not drawn again


def test_a_compare_grid_becomes_a_blind_rating_run(tmp_path):
    *_, saved = stream_to_folder(GRID, SCORER, tmp_path / "grid")
    name = run_from_result(saved.frame)
    session = RatingSession(get_settings().runs_dir / name)
    item = session.next_item("ari")
    assert item.total == 4 and len(item.images) == 2  # 2 prompts x 2 settings, 2 seeds each
    session.rate("ari", item.key, 3, 2)
    assert len(session.ratings()) == 1
    with pytest.raises(PlaygroundError, match="Generate a comparison"):
        run_from_result(saved.frame.iloc[0:0])


def test_the_educators_cases_are_drawn_in_the_background_at_start_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path))  # no case drawn before
    assert draw_in_background("tiny-offline", SCORER, offline=True) is None  # off unless the operator asks
    monkeypatch.setenv("PLAYGROUND_DRAW_CASES", "1")
    drawing = draw_in_background("tiny-offline", SCORER, offline=True)
    drawing.join()
    assert all(drawn(case, "tiny-offline") is not None for case in load_curated().confusions)
