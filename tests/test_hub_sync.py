"""Sharing through the Hub: rows are queued as JSONL and kept when the Hub cannot be reached."""

import json

from playground.hub_sync import HubMirror
from playground.library import Library

from .test_library import record


def test_each_logged_record_becomes_one_json_line_kept_while_the_hub_is_down(tmp_path, monkeypatch,
                                                                           closed_port_endpoint):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_endpoint)
    mirror = HubMirror("someone/prompt-library", tmp_path / "hub")
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images", on_change=mirror.append)
    library.log(record(1), scores={"clip_prompt": 25.0})
    library.log(record(2))
    library.upvote(1)
    lines = mirror.file.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [(r["seed"], r["votes"]) for r in rows] == [(1, 1), (2, 1), (1, 2)]
    assert rows[0]["scores"] == {"clip_prompt": 25.0} and rows[0]["content_hash"]

    # The queued file is itself an importable export: merging keeps the latest votes.
    copy = Library(tmp_path / "copy.sqlite", tmp_path / "images")
    assert copy.import_jsonl(mirror.file) == (2, 1)
    assert copy.to_frame(sort="oldest")["votes"].tolist() == [2, 1]
