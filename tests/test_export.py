"""PNG parameters in AUTOMATIC1111's format, ZIP exports and CSV formula escaping."""

import zipfile

import pandas as pd
import pytest
from PIL import Image

from playground.csv_files import escape_formulas
from playground.render.export import (
    a1111_parameters,
    parse_parameters,
    read_parameters,
    save_png,
    write_zip,
)

ROW = {
    "prompt": "A histopathological image of Graves' disease, H&E, high magnification",
    "negative_prompt": "photograph, text",
    "steps": 20, "scheduler": "DPM++ 2M Karras", "guidance_scale": 7.5, "seed": 1234,
    "width": 512, "height": 512, "model_id": "stabilityai/sd-turbo", "template_id": "histopathology-detailed",
    "subject": "Graves' disease",
}


def test_parameters_round_trip_through_a_png(tmp_path):
    path = save_png(Image.new("RGB", (8, 8)), tmp_path / "x.png", a1111_parameters(ROW))
    text = read_parameters(path)
    assert text.splitlines()[1] == "Negative prompt: photograph, text"
    assert text.splitlines()[2].startswith("Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 1234, Size: 512x512")
    parsed = parse_parameters(text)
    assert parsed["prompt"] == ROW["prompt"] and parsed["negative_prompt"] == ROW["negative_prompt"]
    assert parsed["Steps"] == "20" and parsed["CFG scale"] == "7.5" and parsed["Seed"] == "1234"
    assert parsed["Model"] == "stabilityai/sd-turbo" and parsed["Subject"] == "Graves' disease"
    assert parsed["CLIP guidance"] == "0"


def test_values_with_commas_are_quoted_and_parse_back():
    row = {**ROW, "subject": 'melanoma, "in situ"', "negative_prompt": ""}
    text = a1111_parameters(row)
    assert "Negative prompt" not in text
    assert parse_parameters(text)["Subject"] == 'melanoma, "in situ"'


def test_zip_holds_every_image_and_one_csv_row_each(tmp_path):
    paths = [save_png(Image.new("RGB", (8, 8), (i, 0, 0)), tmp_path / f"{i}.png", "p") for i in range(3)]
    frame = pd.DataFrame({"prompt": ["=cmd|' /C calc'!A0", "+1", "ok"], "seed": [0, 1, 2]})
    archive = write_zip(frame, paths, tmp_path / "all.zip")
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == ["0.png", "1.png", "2.png", "results.csv"]
        table = pd.read_csv(z.open("results.csv"))
    assert table["image_file"].tolist() == ["0.png", "1.png", "2.png"]
    assert table["prompt"].tolist() == ["'=cmd|' /C calc'!A0", "'+1", "ok"]


def test_formula_escaping_leaves_numbers_and_plain_text_alone():
    frame = escape_formulas(pd.DataFrame({"a": ["-x", "@y", "\tz", "fine"], "n": [-1, 2, 3, 4]}))
    assert frame["a"].tolist() == ["'-x", "'@y", "'\tz", "fine"] and frame["n"].tolist() == [-1, 2, 3, 4]


def test_an_automatic1111_png_info_text_restores_a_compare_request():
    from playground.catalog.templates import load_templates
    from playground.errors import PlaygroundError
    from playground.types import GuidanceSetting
    from playground.workflow.form import FREE
    from playground.workflow.restore import from_parameters

    text = ("a dermoscopic photo of a melanoma, sharp\nNegative prompt: blurry, cartoon\n"
            "Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, Size: 512x768, "
            "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.9.4")
    request = from_parameters(text, load_templates(), offered=["tiny-offline"])
    assert request.columns == ((FREE, "a dermoscopic photo of a melanoma, sharp"),)
    assert request.settings == (GuidanceSetting(6.5, 25, "DPM++ 2M Karras", "blurry, cartoon", 0.0),)
    assert (request.seed, request.width, request.height, request.models) == (1234, 512, 768, ())
    assert "'v1-5-pruned-emaonly', not offered here" in request.label
    with pytest.raises(PlaygroundError, match="Seed must be a whole number"):
        from_parameters(text.replace("Seed: 1234", "Seed: 12.5"), load_templates(), offered=[])


def test_structured_cells_are_written_as_json_in_a_csv(tmp_path):
    import json

    from playground.csv_files import write_csv

    checklist = [{"id": "he-stain", "label": "H&E stained", "p": 0.71, "passed": True}]
    path = write_csv(pd.DataFrame({"criteria": [checklist, None], "clip_prompt": [27.1, float("nan")]}), tmp_path / "t.csv")
    back = pd.read_csv(path)
    assert json.loads(back["criteria"][0]) == checklist and pd.isna(back["criteria"][1])
