"""Drafts through the app's API: a grid decoded fast, one draft decoded in full on demand, and
a draft never preferred or rated as if it were a full image."""

import pandas as pd
import pytest
from gradio_client.exceptions import AppError

from playground.render.export import parse_parameters, read_parameters

from .test_ui_api import call_compare


def table_of(table) -> pd.DataFrame:
    return pd.DataFrame(table["data"], columns=table["headers"])


def test_a_draft_grid_is_decoded_in_full_one_image_at_a_time_and_only_full_images_are_preferred(client):
    *_, table, _, _, images = call_compare(client, decoder="fast", template_2="off", prompt_2="")
    drafts = table_of(table)
    assert list(drafts["decoder"]) == ["fast"] * 4 and len(images) == 4
    with pytest.raises(AppError, match=r"Image #3 is a draft \(fast decoder\)"):
        client.predict(image=3, note="", api_name="/prefer")

    *_, table, _, _, images = client.predict(image=3, api_name="/decode_in_full")
    decoded = table_of(table)
    assert list(decoded["decoder"]) == ["fast", "fast", "full", "fast"]  # the grid keeps its order and its drafts
    assert decoded.loc[2, ["row", "column", "seed"]].tolist() == drafts.loc[2, ["row", "column", "seed"]].tolist()
    assert parse_parameters(read_parameters(images[2]["image"]))["Seed"] == str(drafts.loc[2, "seed"])
    assert client.predict(image=3, note="", api_name="/prefer").startswith("Saved to the library as record #")
    with pytest.raises(AppError, match="decoded in full already"):
        client.predict(image=3, api_name="/decode_in_full")


def test_a_grid_of_drafts_is_not_made_into_a_rating_run(client):
    call_compare(client, decoder="fast", template_2="off", prompt_2="", images_per_cell=1)
    with pytest.raises(AppError, match=r"The grid holds 2 drafts \(fast decoder; image #1 first\)"):
        client.predict(run_keys={}, api_name="/study_from_compare")


def test_an_unknown_decoder_is_a_sentence(client):
    with pytest.raises(AppError, match=r"'quick'.* is not in the list of choices: \['full', 'fast'\]"):
        call_compare(client, decoder="quick")
