"""The Arena: blind pairwise votes in the library's SQLite file, rated with Bradley-Terry."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from playground import bradley_terry
from playground.bradley_terry import LEADERBOARD_COLUMNS
from playground.errors import PlaygroundError
from playground.stores.arena_votes import MIGRATIONS, Arena, Pair, open_arena
from playground.stores.library import Library

from .test_library import first_release

PAIR = Pair(
    kind="template", modality="x-ray", subject="a fractured left radius", model_id="tiny-offline",
    setting="default", seed=7, left="radiograph-plain", right="radiograph-detailed",
    left_prompt="an x-ray of a fractured left radius", right_prompt="a detailed radiograph of a fractured left radius",
    left_image="/tmp/a.png", right_image="",
)


def votes(*triples: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(triples, columns=["left", "right", "winner"])


def row(board: pd.DataFrame, contestant: str) -> pd.Series:
    return board.set_index("contestant").loc[contestant]


def test_a_vote_is_stored_and_read_back(tmp_path):
    arena = Arena(tmp_path / "library.sqlite")
    first = arena.vote(PAIR, "left")
    second = arena.vote(replace(PAIR, seed=8), "tie")
    frame = arena.votes()
    assert second > first
    assert frame["id"].tolist() == [first, second]
    stored = frame.iloc[0].to_dict()
    assert {k: stored[k] for k in PAIR.__dataclass_fields__} == PAIR.__dict__
    assert stored["winner"] == "left" and stored["created"].endswith("+00:00")
    assert arena.votes(kind="model").empty and arena.votes(modality="mri").empty


def test_a_drawn_pair_is_voted_on_once(tmp_path):
    arena = Arena(tmp_path / "library.sqlite")
    arena.vote(PAIR, "left")
    for winner in ("left", "right", "tie"):  # the same drawing sent again, with any verdict
        with pytest.raises(PlaygroundError, match="This pair has been voted on already, and a pair counts once"):
            arena.vote(PAIR, winner)
    redrawn = replace(PAIR)  # the same contestants drawn again are a new pair
    assert redrawn.draw_id != PAIR.draw_id and arena.vote(redrawn, "right")
    assert arena.votes()["winner"].tolist() == ["left", "right"]


def test_votes_cast_before_draw_ids_existed_are_kept(tmp_path):
    path = tmp_path / "library.sqlite"
    db = first_release(path, MIGRATIONS)
    old = {k: v for k, v in PAIR.__dict__.items() if k != "draw_id"} | {"created": "then", "winner": "left"}
    columns = ", ".join(f'"{name}"' for name in old)
    for _ in range(2):
        db.execute(f"INSERT INTO arena_votes ({columns}) VALUES ({', '.join('?' * len(old))})", list(old.values()))
    db.close()
    arena = Arena(path)
    arena.vote(PAIR, "right")
    votes = arena.votes()
    assert votes["winner"].tolist() == ["left", "left", "right"]
    assert votes["draw_id"].isna().tolist() == [True, True, False]


def test_open_arena_uses_the_configured_library_file(fresh_library):
    open_arena().vote(PAIR, "right")
    assert Arena(fresh_library).votes()["winner"].tolist() == ["right"]


def test_a_bad_winner_or_one_contestant_on_both_sides_is_refused(tmp_path):
    arena = Arena(tmp_path / "library.sqlite")
    with pytest.raises(PlaygroundError, match="left, right or tie, got 'both'"):
        arena.vote(PAIR, "both")
    with pytest.raises(PlaygroundError, match="two different contestants"):
        arena.vote(replace(PAIR, right=PAIR.left), "left")
    with pytest.raises(PlaygroundError, match="template or model"):
        replace(PAIR, kind="scheduler")
    assert arena.votes().empty


def test_the_winner_rises_above_the_loser_and_a_tie_leaves_two_equals_level():
    board = bradley_terry.fit(votes(("a", "b", "left"), ("b", "a", "right"), ("c", "d", "tie")))
    assert row(board, "a")["rating"] > 1000 > row(board, "b")["rating"]
    assert row(board, "c")["rating"] == pytest.approx(row(board, "d")["rating"]) == pytest.approx(1000)
    assert board["contestant"].iloc[0] == "a"
    assert row(board, "a")[["wins", "losses", "ties", "votes"]].tolist() == [2, 0, 0, 2]
    assert row(board, "c")[["wins", "losses", "ties", "votes"]].tolist() == [0, 0, 1, 1]


def test_ratings_stay_finite_when_one_contestant_won_every_vote():
    board = bradley_terry.fit(votes(*[("a", "b", "left")] * 200))
    assert np.isfinite(board[["rating", "se", "low", "high"]].to_numpy()).all()
    assert row(board, "a")["rating"] > row(board, "b")["rating"]
    assert row(board, "a")["low"] < row(board, "a")["rating"] < row(board, "a")["high"]


def test_more_votes_shrink_the_standard_error():
    few = bradley_terry.fit(votes(*[("a", "b", "left"), ("a", "b", "right")] * 5))
    many = bradley_terry.fit(votes(*[("a", "b", "left"), ("a", "b", "right")] * 500))
    assert row(many, "a")["se"] < row(few, "a")["se"] / 5
    assert row(many, "a")["rating"] == pytest.approx(1000)


def test_the_fit_recovers_the_order_of_known_strengths():
    strengths = {"weak": -1.0, "middle": 0.0, "strong": 1.0}
    names = list(strengths)
    rng = np.random.default_rng(0)
    triples = []
    for _ in range(600):
        left, right = rng.choice(names, size=2, replace=False)
        p_left = 1 / (1 + math.exp(strengths[right] - strengths[left]))
        triples.append((left, right, "left" if rng.random() < p_left else "right"))
    board = bradley_terry.fit(votes(*triples))
    assert board["contestant"].tolist() == ["strong", "middle", "weak"]
    gap = row(board, "strong")["rating"] - row(board, "weak")["rating"]
    assert gap == pytest.approx(2 * bradley_terry.ELO, rel=0.25)
    assert board.equals(bradley_terry.fit(votes(*triples)))  # deterministic


def test_the_leaderboard_is_per_modality(tmp_path):
    arena = Arena(tmp_path / "library.sqlite")
    assert arena.leaderboard().columns.tolist() == LEADERBOARD_COLUMNS and arena.leaderboard().empty
    arena.vote(PAIR, "left")
    arena.vote(replace(PAIR, modality="mri", left="mri-plain", right="mri-axial"), "right")
    arena.vote(replace(PAIR, kind="model", model_id="", left="tiny-offline", right="sd-turbo"), "left")
    board = arena.leaderboard()
    assert board.columns.tolist() == LEADERBOARD_COLUMNS
    assert board[["modality", "contestant"]].values.tolist() == [
        ["mri", "mri-axial"], ["mri", "mri-plain"], ["x-ray", "radiograph-plain"], ["x-ray", "radiograph-detailed"]]
    assert arena.leaderboard("model")["contestant"].tolist() == ["tiny-offline", "sd-turbo"]


def test_export_round_trips_as_csv_and_jsonl(tmp_path):
    arena = Arena(tmp_path / "library.sqlite")
    arena.vote(PAIR, "left")
    arena.vote(replace(PAIR, seed=8), "tie")
    board = pd.read_csv(arena.export(tmp_path / "leaderboard.csv"))
    pd.testing.assert_frame_equal(board, arena.leaderboard(), check_dtype=False)
    lines = arena.export(tmp_path / "votes.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["winner"] for line in lines] == ["left", "tie"]
    read = pd.read_json(tmp_path / "votes.jsonl", lines=True, dtype=False)
    pd.testing.assert_frame_equal(read, arena.votes(), check_dtype=False)
    with pytest.raises(PlaygroundError, match=r"\.csv .* or \.jsonl .*'votes\.parquet'"):
        arena.export(tmp_path / "votes.parquet")


def test_the_migration_runs_once_in_a_file_that_holds_the_library(tmp_path):
    path = tmp_path / "library.sqlite"
    Library(path).count()  # the library's own tables first
    Arena(path).vote(PAIR, "left")
    Arena(path).votes()  # a second connect applies nothing again
    assert Library(path).count() == 0
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        applied = [name for (name,) in db.execute("SELECT name FROM _migrations ORDER BY name")]
    assert {"records", "arena_votes", "_migrations"} <= tables
    assert applied.count("m001_arena_votes") == applied.count("m002_arena_draw_id") == 1
    assert "m001_records" in applied
