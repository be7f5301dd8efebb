"""Most informative first: a run can ask its raters first for the conditions on which the judges
disagree most, or whose checklist judge sits nearest 0.5; random stays the default, and every
rating records the order it was given in."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from playground.errors import PlaygroundError
from playground.research.informative_order import (
    disagreement,
    informativeness,
    judge_columns,
    uncertainty,
)
from playground.research.study import RatingSession
from playground.research.sweep import Study, load_study, sweep
from playground.types import GuidanceSetting

NAN = math.nan
# Two images per condition p0..p5, with the judges' scores set. Per condition (mean of its images):
#   clip_prompt  30, 31, 32, 33, 34, none   -> ranks 0, .25, .5, .75, 1
#   vlm_score    .9, .7, .5, .3, .1, .6     -> ranks 1, .8, .4, .2, 0, .6 (p1's second image unanswered)
# so the disagreement (standard deviation of the two ranks) is .5, .275, .05, .275, .5 and none for
# p5 (one judge). clip_subject is CLIP's second column (CLIP counts once, by clip_prompt) and
# domain_score gives every condition 40 (it tells none apart): both are left out.
SCORES = {
    "clip_prompt": [29, 31, 31, 31, 31, 33, 32, 34, 34, 34, NAN, NAN],
    "clip_subject": [90, 90, 10, 10, 90, 90, 10, 10, 50, 50, 20, 20],
    "vlm_score": [0.9, 0.9, 0.7, NAN, 0.4, 0.6, 0.3, 0.3, 0.1, 0.1, 0.6, 0.6],
    "domain_score": [40.0] * 12,
}
CONDITIONS = [f"p{i}" for i in range(6)]


def finished_run(folder: Path, scores: dict[str, list[float]] = SCORES) -> Path:
    """A run folder as a sweep leaves it: its table (conditions p0..p5, two images each) and images."""
    (folder / "images").mkdir(parents=True)
    files = [f"image-{i:02d}.png" for i in range(12)]
    for name in files:
        Image.new("RGB", (16, 16), (90, 20, 60)).save(folder / "images" / name)
    prompts = [p for p in CONDITIONS for _ in range(2)]
    pd.DataFrame({"subject": "melanoma", "modality": "dermoscopy", "prompt": prompts, "setting": "CFG 7.5",
                  "setting_key": "s1", "image_file": files, "unit": 0, **scores}).to_parquet(folder / "results.parquet")
    return folder


def keys(session: RatingSession) -> dict[str, str]:
    """Each condition's prompt by its item key."""
    return dict(zip(session.frame["item"], session.frame["prompt"]))


def in_shuffle(shuffled: list[str], *groups: list[str]) -> list[str]:
    """`groups` one after the other, each in the order its members have in `shuffled`."""
    return [p for group in groups for p in sorted(group, key=shuffled.index)]


def prompts_in_order(session: RatingSession, rater: str) -> list[str]:
    return [keys(session)[key] for key in session.order(rater)]


def test_random_stays_the_default_a_shuffle_per_rater(tmp_path):
    session = RatingSession(finished_run(tmp_path / "run"), seed=3)
    assert session.ordering == "random"
    for rater in ("ann", "ben"):
        items = sorted(set(session.frame["item"]))
        random.Random(f"3:{rater}").shuffle(items)
        assert session.order(rater) == items
    assert Study(name="s", subjects=["melanoma"], templates=["photo-short"], settings=[GuidanceSetting()]).order == "random"


def test_the_judges_disagreement_orders_the_conditions_ties_in_each_raters_shuffle(tmp_path):
    run = finished_run(tmp_path / "run")
    frame = RatingSession(run).frame
    assert judge_columns(frame) == ["clip_prompt", "domain_score", "vlm_score"]  # one per judge; domain dropped below
    by_prompt = disagreement(frame).rename(index=keys(RatingSession(run)))
    assert by_prompt[CONDITIONS[:5]].tolist() == pytest.approx([0.5, 0.275, 0.05, 0.275, 0.5])
    assert math.isnan(by_prompt["p5"])  # one judge scored it: nothing to disagree on

    firsts = set()
    for rater in ("ann", "ben", "cat", "dan", "eve", "fay"):
        shuffled = prompts_in_order(RatingSession(run, seed=5, order="random"), rater)
        ordered = prompts_in_order(RatingSession(run, seed=5, order="disagreement"), rater)
        assert ordered == in_shuffle(shuffled, ["p0", "p4"], ["p1", "p3"], ["p2"], ["p5"])
        firsts.add(ordered[0])
    assert firsts == {"p0", "p4"}  # tied conditions: raters still differ


def test_the_checklist_judge_nearest_half_comes_first(tmp_path):
    run = finished_run(tmp_path / "run")
    session = RatingSession(run, seed=2, order="uncertainty")
    shuffled = prompts_in_order(RatingSession(run, seed=2), "ann")
    assert prompts_in_order(session, "ann") == in_shuffle(shuffled, ["p2"], ["p5"], ["p1", "p3"], ["p0", "p4"])
    values = informativeness(session.frame, "uncertainty").rename(index=keys(session))
    assert values[CONDITIONS].tolist() == pytest.approx([0.2, 0.6, 1.0, 0.6, 0.2, 0.8])
    clip_only = pd.DataFrame({"item": ["a", "a", "b", "c"], "criteria_score": [0.5, 0.7, 0.9, NAN]})
    assert uncertainty(clip_only).tolist()[:2] == pytest.approx([0.8, 0.2]) and math.isnan(uncertainty(clip_only)["c"])


def test_conditions_no_judge_places_keep_the_raters_shuffle(tmp_path):
    run = finished_run(tmp_path / "run", {"clip_prompt": [30.0] * 12})
    for order in ("disagreement", "uncertainty"):
        session = RatingSession(run, seed=4, order=order)
        assert session.order("ann") == RatingSession(run, seed=4).order("ann")
        assert informativeness(session.frame, order).isna().all()


def test_the_order_is_kept_by_the_run_and_recorded_with_each_rating(tmp_path):
    run = finished_run(tmp_path / "run")
    RatingSession(run).choose_order("disagreement")
    session = RatingSession(run, seed=5)
    assert session.ordering == "disagreement"
    first = session.next_item("ann")
    assert keys(session)[first.key] in ("p0", "p4") and first.number == 1
    session.rate("ann", first.key, 3, 2)
    RatingSession(run, seed=5, order="random").rate("ben", first.key, 1, 1)  # a session may override
    ratings = session.ratings().set_index("style")
    assert ratings.loc[3, "ordering"] == "disagreement" and ratings.loc[1, "ordering"] == "random"
    session.choose_order("random")
    assert session.ordering == "random" and RatingSession(run).ordering == "random"


def test_an_unknown_order_is_refused_with_the_ones_allowed(tmp_path):
    run = finished_run(tmp_path / "run")
    with pytest.raises(PlaygroundError, match="The order 'sideways' is not one of: random, disagreement, uncertainty."):
        RatingSession(run, order="sideways")
    with pytest.raises(PlaygroundError, match="not one of"):
        RatingSession(run).choose_order("sideways")
    (tmp_path / "bad.yaml").write_text("name: bad\nsubjects: [melanoma]\ntemplates: [photo-short]\n"
                                       "settings: [{guidance_scale: 7.5, steps: 2}]\norder: sideways\n")
    with pytest.raises(PlaygroundError, match="bad.yaml.*order"):
        load_study(tmp_path / "bad.yaml")


def test_a_sweep_gives_its_run_the_study_files_order(tmp_path):
    (tmp_path / "study.yaml").write_text("name: ordered\nsubjects: [melanoma]\ntemplates: [photo-short]\n"
                                         "settings: [{guidance_scale: 7.5, steps: 2}]\nseeds: 1\norder: uncertainty\n")
    study = load_study(tmp_path / "study.yaml")
    sweep(study, tmp_path / "run")
    session = RatingSession(tmp_path / "run")
    assert session.ordering == "uncertainty" and len(session.order("ann")) == 1


def test_a_compare_grid_becomes_a_run_with_the_checklist_and_the_order_asked_for(tmp_path):
    from playground import compare
    from playground.config import get_settings
    from playground.ui.study_tab import rate_compare

    grid = compare("melanoma", ["photo-short"], [GuidanceSetting(4.0, 2)], images_per_cell=1, folder=tmp_path / "grid")
    runs, _, _ = rate_compare(grid.frame, {}, True, "disagreement")
    session = RatingSession(get_settings().runs_dir / runs.value)
    assert session.ordering == "disagreement"
    item = session.next_item("ann")
    assert [c.id for c in session.questions(item.key)]  # the photograph's checklist is asked
    runs, _, _ = rate_compare(grid.frame, {})  # the defaults: random, no checklist
    plain = RatingSession(get_settings().runs_dir / runs.value)
    assert plain.ordering == "random" and plain.questions(plain.next_item("ann").key) == []
    with pytest.raises(Exception, match="not one of: random, disagreement, uncertainty"):
        rate_compare(grid.frame, {}, False, "sideways")
