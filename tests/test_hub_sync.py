"""Sharing through the Hub: rows are queued as JSONL and kept when the Hub cannot be reached."""

import json

from playground.stores.hub_sync import HubMirror
from playground.stores.library import Library
from playground.stores.votes import Voter

from .test_library import record


def test_each_logged_record_becomes_one_json_line_kept_while_the_hub_is_down(tmp_path, monkeypatch,
                                                                           closed_port_endpoint):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_endpoint)
    mirror = HubMirror("someone/prompt-library", tmp_path / "hub")
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images", on_change=mirror.append)
    library.log(record(1), scores={"clip_prompt": 25.0})
    library.log(record(2))
    library.upvote(1)
    library.upvote(2, Voter("a-session", "10.0.0.7"))
    library.upvote(2, Voter("another-session", "10.0.0.7"))  # the same address: not counted, not queued
    lines = mirror.file.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [(r["seed"], r["votes"]) for r in rows] == [(1, 1), (2, 1), (1, 2), (2, 2)]
    assert rows[0]["scores"] == {"clip_prompt": 25.0} and rows[0]["content_hash"]

    # The queued file is itself what a Hub pull merges: the latest votes are kept.
    copy = Library(tmp_path / "copy.sqlite", tmp_path / "images")
    assert copy.import_jsonl(mirror.file, keep_votes=True) == (2, 2)
    assert copy.to_frame(sort="oldest")["votes"].tolist() == [2, 2]


def test_pull_merges_the_dataset_records_into_the_local_library(tmp_path):
    """`python -m playground library pull` through huggingface_hub's cache (HF_HUB_OFFLINE=1)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    commit = "1" * 40
    repo = tmp_path / "hub" / "datasets--someone--prompt-library"
    (repo / "snapshots" / commit / "records").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    lines = [json.dumps({**record(i), "votes": i + 1}) for i in range(2)]
    (repo / "snapshots" / commit / "records" / "a.jsonl").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1",
           "LIBRARY_HUB_REPO": "someone/prompt-library", "PLAYGROUND_LIBRARY": str(tmp_path / "lib.sqlite")}
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-m", "playground", "library", "pull"], env=env, cwd=root,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Added 2 records from the Hub" in out.stdout
    assert Library(tmp_path / "lib.sqlite").to_frame(sort="oldest")["votes"].tolist() == [1, 2]
