"""The Compare tab through its API (gradio_client), as a script or another app would call it."""

import html
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from gradio_client.exceptions import AppError
from PIL import Image

from playground.render.export import parse_parameters, read_parameters
from playground.stores.library import Library

SETTINGS = {"headers": ["guidance_scale", "steps", "scheduler", "negative_prompt"],
            "data": [[4.0, 3, "default", ""], [7.5, 3, "DPM++ 2M", "blurry"]]}


def captions(grid) -> list[str]:
    """The text under each image of the grid's HTML, in grid order."""
    value = grid["value"] if isinstance(grid, dict) else grid
    return [html.unescape(c) for c in re.findall(r"<figcaption>(.*?)</figcaption>", value)]


def call_compare(client, **overrides):
    values = dict(
        subject="melanoma", template_1="photo-short", prompt_1="A photo of melanoma",
        template_2="histopathology-detailed", prompt_2="A histopathological image of melanoma, H&E",
        template_3="off", prompt_3="", template_4="off", prompt_4="", settings=SETTINGS, images_per_cell=2, seed=7,
    )
    values.update(overrides)
    return client.predict(**values, api_name="/compare")


def test_compare_returns_scored_grid_table_plot_and_zip(client):
    grid, legend, plot, table, zip_path, grid_png, _ = call_compare(client)
    under = captions(grid)
    assert len(under) == 8
    assert all(c.startswith("CLIP ") for c in under)
    assert sum("★" in c for c in under) == 2
    frame = pd.DataFrame(table["data"], columns=table["headers"])
    assert len(frame) == 8 and frame["clip_prompt"].between(0, 100).all()
    assert sorted(set(frame["seed"])) == [7, 8]
    assert len(plot["data"]) == 4  # one bar per prompt x setting
    assert "photo-short" in legend and "CFG 7.5" in legend

    parsed = parse_parameters(read_parameters(zip_image(zip_path, "r2-c2-s8.png")))  # the last image
    assert parsed["prompt"] == "A histopathological image of melanoma, H&E"
    assert parsed["Negative prompt" if "Negative prompt" in parsed else "negative_prompt"].endswith("blurry")
    assert (parsed["Steps"], parsed["CFG scale"], parsed["Sampler"], parsed["Seed"]) == ("3", "7.5", "DPM++ 2M", "8")

    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        csv = pd.read_csv(archive.open("results.csv"))
    assert len([n for n in names if n.endswith(".png")]) == 9 and len(csv) == 8  # the images and the grid
    assert set(csv["image_file"]) | {"grid.png"} == {n for n in names if n.endswith(".png")}
    with Image.open(grid_png) as image:
        assert image.width > 2 * 128 and image.height > 2 * 128  # two columns, two rows of thumbnails


def zip_image(zip_path, name: str) -> Path:
    """A PNG of the ZIP, extracted beside it."""
    with zipfile.ZipFile(zip_path) as archive:
        return Path(archive.extract(name, path=Path(zip_path).parent / "extracted"))


def test_prefer_logs_the_chosen_image_to_the_library(client):
    call_compare(client, subject="lung adenocarcinoma", prompt_1="A photo of lung adenocarcinoma")
    message = client.predict(image=2, note="clear glands", api_name="/prefer")
    assert message.startswith("Saved to the library as record #")
    record_id = int(message.split("#")[1].split()[0])
    frame = Library().to_frame().set_index("id")
    assert frame.loc[record_id, "subject"] == "lung adenocarcinoma"
    assert frame.loc[record_id, "note"] == "clear glands" and frame.loc[record_id, "seed"] == 8
    again = client.predict(image=2, note="", api_name="/prefer")
    assert again.startswith(f"Your vote for record #{record_id} was counted already (votes: 1)")  # one visitor


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subject": "   "}, "subject is empty"),
        ({"model": "someone/else"}, "someone/else"),
        ({"settings": {**SETTINGS, "data": [[4.0, 0, "default", ""]]}}, "steps must be between 1"),
        ({"images_per_cell": 4}, "asks for 16 images; the limit is 10"),
        ({"seed": -5}, "Seeds must lie in 0"),
    ],
)
def test_bad_input_gives_a_plain_error(client, monkeypatch, overrides, message):
    monkeypatch.setenv("PLAYGROUND_MAX_IMAGES", "10")  # the server reads its limits per request
    with pytest.raises(AppError, match=message):
        call_compare(client, **overrides)


def test_rerun_cell_redraws_the_selected_images_cell_with_new_seeds(client):
    call_compare(client)
    grid, _, _, table, *_ = client.predict(image=6, api_name="/rerun_cell")  # row 2, column 1, seed 8
    frame = pd.DataFrame(table["data"], columns=table["headers"])
    cell = frame[(frame["row"] == 2) & (frame["column"] == 1)]  # the table counts rows and columns from 1
    assert sorted(cell["seed"]) == [9, 10] and len(frame) == 8
    assert sorted(frame[(frame["row"] == 1) & (frame["column"] == 1)]["seed"]) == [7, 8]
    assert len(captions(grid)) == 8


def test_prompt_search_through_the_app(client):
    summary, history = client.predict(subject="melanoma", template_1="photo-short", model=["tiny-offline"],
                                      scorer="tiny-offline-clip", judge="tiny-offline-vlm", budget_images=6,
                                      api_name="/prompt_search")
    steps = pd.DataFrame(history["data"], columns=history["headers"])
    assert summary.startswith("**Best prompt:**") and "held-out seeds" in summary
    assert steps["mutation"].iloc[0] == "start" and steps["images"].max() <= 6


def test_compare_by_keyword_with_only_a_subject_returns_that_subjects_images_each_with_its_row(client):
    *_, table, zip_path, _, images = client.predict(subject="basal cell carcinoma", api_name="/compare")
    frame = pd.DataFrame(table["data"], columns=table["headers"])
    assert len(frame) == 8 and frame["prompt"].str.contains("basal cell carcinoma").all()  # the page's templates, filled
    with zipfile.ZipFile(zip_path) as archive:
        assert pd.read_csv(archive.open("results.csv"))["prompt"].str.contains("basal cell carcinoma").all()
    assert len(images) == len(frame)  # image i goes with table row i, as its caption and the row's numbers say
    for image, row in zip(images, frame.itertuples()):
        assert image["caption"] == f"#{row.image} · r{row.row} c{row.column} · seed {row.seed}"
        assert Path(image["image"]).name == f"r{row.row}-c{row.column}-s{row.seed}.png"  # the file's name: the same numbers
        assert parse_parameters(read_parameters(Path(image["image"])))["prompt"] == row.prompt
    assert list(frame["image"]) == list(range(1, 9))
