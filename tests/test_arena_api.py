"""The Arena as a script sees it (gradio_client): the images it is sent name nothing, the drawn
originals are not served, and a drawn pair counts once however often its vote is sent."""

import re
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from playground.config import get_settings
from playground.stores.arena_votes import open_arena

from .test_hardening import status


def test_a_script_is_sent_pixels_only_and_counts_once_per_pair(app_url):
    client = Client(app_url, verbose=False)  # a session of its own: the pair drawn lives in it
    before = len(open_arena().votes())
    header, *sent = client.predict("histopathology", ["tiny-offline"], "template", api_name="/arena_pair")
    assert re.search(r"seed \d+\. Which image shows it better\?", header)
    for path in map(Path, sent):
        assert re.fullmatch("[0-9a-f]{24}.png", path.name)  # an HMAC: no template, row, column or seed
        with Image.open(path) as image:
            assert image.size == (64, 64) and not image.info and not getattr(image, "text", {})

    reveal, board = client.predict(api_name="/arena_vote_left")
    assert reveal.startswith("Recorded: A is better.") and len(board.get("value", board)["data"]) >= 2
    for again in ("/arena_vote_left", "/arena_vote_right", "/arena_vote_tie"):
        with pytest.raises(AppError, match="There is no pair to vote on"):
            client.predict(api_name=again)
    votes = open_arena().votes()
    assert len(votes) == before + 1 and votes.iloc[-1]["draw_id"]

    # The originals, with their prompts and settings, stay outside the served folder (preference data).
    base = app_url.rstrip("/")
    for original in (votes.iloc[-1]["left_image"], votes.iloc[-1]["right_image"]):
        assert Path(original).parent == get_settings().arena_dir
        with Image.open(original) as image:
            assert f"Seed: {votes.iloc[-1]['seed']}," in image.info["parameters"]
        assert status(f"{base}/gradio_api/file={original}") in (403, 404)
