"""Library votes that cannot be stuffed: one visitor counts once per record (per session and per
address, within PLAYGROUND_VOTE_WINDOW_H), on a real SQLite file and through the running app."""

import re
import sqlite3

from gradio_client import Client
from PIL import Image

from playground.stores.library import Library, open_library
from playground.stores.votes import Voter

from .test_library import record

ALICE = Voter("session-alice", "203.0.113.5")


def test_one_visitor_counts_once_per_record_however_they_vote(tmp_path):
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    first = library.log(record(1), Image.new("RGB", (8, 8)), voter=ALICE)
    assert (first.created, first.votes, first.counted) == (True, 1, True)
    again = library.log(record(1), voter=ALICE)  # Prefer the same image again
    assert (again.id, again.votes, again.counted) == (first.id, 1, False)
    for voter in (ALICE, Voter("a-new-session", ALICE.address), Voter(ALICE.session, "198.51.100.9")):
        assert not library.upvote(first.id, voter).counted  # a new session, or a new address, is the same visitor
    assert library.upvote(first.id, Voter("session-bob", "198.51.100.20")).votes == 2
    assert library.upvote(first.id).votes == 3  # no voter: a notebook or the command line, always counted
    other = library.log(record(2), voter=ALICE)
    assert other.created and library.upvote(other.id, Voter("session-bob", "198.51.100.20")).votes == 2
    assert library.to_frame(sort="oldest")["votes"].tolist() == [3, 2]


def test_votes_are_stored_as_keyed_hashes_and_forgotten_after_the_window(tmp_path, monkeypatch):
    path = tmp_path / "lib.sqlite"
    library = Library(path, tmp_path / "images")
    record_id = library.log(record(1), voter=ALICE).id
    with sqlite3.connect(path) as db:
        stored = [name for (name,) in db.execute("SELECT voter FROM record_votes")]
        assert len(stored) == 2 and all(re.fullmatch("[0-9a-f]{32}", name) for name in stored)
        assert not any(ALICE.address in name or ALICE.session in name for name in stored)
        db.execute("UPDATE record_votes SET created = '2024-01-01T00:00:00+00:00'")  # long before the window
    assert library.upvote(record_id, ALICE).votes == 2  # the window (24 h) has passed: the visitor counts again
    assert not library.upvote(record_id, ALICE).counted
    monkeypatch.setenv("PLAYGROUND_VOTE_WINDOW_H", "0")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE record_votes SET created = '2024-01-01T00:00:00+00:00'")
    assert library.upvote(record_id, ALICE).counted  # with no window, only a vote cast in the same second is held
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM record_votes").fetchone()[0] == 2  # old rows are deleted


def test_a_script_upvoting_in_a_loop_counts_once(client, app_url, fresh_library):
    record_id = open_library().log(record(1)).id  # the operator's record: one vote
    first = client.predict(record_id, api_name="/library_upvote")
    assert first == f"Record #{record_id} has 2 votes."
    for _ in range(20):
        again = client.predict(record_id, api_name="/library_upvote")
    fresh = Client(app_url, verbose=False).predict(record_id, api_name="/library_upvote")  # a new session
    for message in (again, fresh):
        assert message.startswith(f"Your vote for record #{record_id} was counted already (votes: 2)")
    assert Library().get(record_id)["votes"] == 2
