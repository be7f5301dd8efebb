"""The labelled grid: its layout on a real tiny-model comparison (headers, cells, marks, heat), on
a partial and an unjudged frame, and the PNG drawn from it, up to a full 4 x 4 x 4 grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from playground import GuidanceSetting, PlaygroundError, compare
from playground.judges.rank import best_in_row, best_of_n
from playground.render.grid import heat_colour, layout
from playground.render.grid_image import Style, cut, draw, save, wrap
from playground.schema import PRIMARY_SCORE, of_step

SETTINGS = [GuidanceSetting(4.0, steps=1), GuidanceSetting(7.5, steps=1, negative_prompt="blurry")]


@pytest.fixture(scope="module")
def result():
    return compare("melanoma", ["photo-short", "photo-detailed"], SETTINGS, images_per_cell=2, width=64, height=64)


def synthetic(columns: int = 4, rows: int = 4, seeds: int = 4) -> tuple[pd.DataFrame, list[Image.Image]]:
    """A judged-looking frame of the declared columns, with solid-colour images: no model needed."""
    rng = np.random.default_rng(0)
    records = [
        dict(subject="pulmonary embolism", column=c, row=r, template_id=f"template-{c}", modality="x-ray",
             variant="", prompt=f"Prompt {c}: a chest CT angiogram of pulmonary embolism, " + "detail " * 30,
             negative_prompt="blurry", setting=f"CFG {r + 3} · 20 steps · Euler", setting_key=f"key{r}",
             setting_negative_prompt="blurry", model_id=f"organisation/model-number-{r}", scheduler="Euler",
             steps=20, guidance_scale=r + 3.0, clip_guidance_scale=0.0, seed=s, width=512, height=512,
             seconds=1.0, from_cache=s == 3, prompt_ignored="", negative_ignored="", image_problem="",
             clip_prompt=rng.uniform(10, 35), criteria_score=rng.uniform(0, 1), criteria_passed=3,
             criteria=[{"id": f"c{i}", "label": f"criterion {i}", "p": 0.9 if i < 3 else 0.1, "passed": i < 3}
                       for i in range(5)],
             vlm_score=rng.uniform(0, 1), probe_top3=[{"label": "a pulmonary nodule", "p": 0.51},
                                                      {"label": "pulmonary embolism", "p": 0.40},
                                                      {"label": "a photo", "p": 0.09}])
        for r in range(rows) for c in range(columns) for s in range(seeds)
    ]
    frame = pd.DataFrame(records)
    frame = frame.assign(best_of_n=best_of_n(frame))
    frame = frame.assign(best_in_row=best_in_row(frame))
    images = [Image.new("RGB", (512, 384), (40 * r, 60 * c, 50 * s))
              for r, c, s in zip(frame["row"], frame["column"], frame["seed"])]
    return frame, images


def dark_pixels(image: Image.Image) -> int:
    return int((np.asarray(image.convert("L")) < 100).sum())


def test_headers_name_each_prompt_column_and_each_model_setting_row(result):
    grid = layout(result.frame)
    assert [h.title for h in grid.columns] == ["c1 photo-short", "c2 photo-detailed"]
    assert [h.detail for h in grid.columns] == list(result.frame.drop_duplicates("column")["prompt"])
    assert [h.title for h in grid.rows] == [f"r{i + 1} tiny-offline · {s.label}" for i, s in enumerate(SETTINGS)]
    assert grid.rows[1].detail == f"tiny-offline · {SETTINGS[1].label} · negative prompt: blurry"


def test_each_cell_holds_its_seeds_images_in_order_with_their_badges(result):
    frame, grid = result.frame, layout(result.frame)
    assert [(c.row, c.column) for c in grid.cells] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for cell in grid.cells:
        positions = list(np.flatnonzero((frame["row"] == cell.row) & (frame["column"] == cell.column)))
        assert [image.position for image in cell.images] == positions
        assert [image.seed for image in cell.images] == [0, 1]
        for image in cell.images:
            row = frame.iloc[image.position]
            passed = f"✓{row['criteria_passed']}/{len(row['criteria'])}"
            assert image.badges[0] == f"CLIP {row[PRIMARY_SCORE]:.1f}" and passed in image.marks
        assert cell.score == pytest.approx(frame.iloc[positions][PRIMARY_SCORE].mean())


def test_the_best_image_of_each_row_is_starred_and_the_best_of_each_cell_diamonded(result):
    frame, grid = result.frame, layout(result.frame)
    images = [image for cell in grid.cells for image in cell.images]
    starred = [image.position for image in images if "★" in image.marks]
    assert starred == list(np.flatnonzero(frame["best_in_row"])) and len(starred) == 2
    assert [image.position for image in images if "◆" in image.marks] == list(np.flatnonzero(frame["best_of_n"]))
    assert {"★ best in its row by CLIP score", "colour: the cell's mean CLIP score, per row, red (lowest) to green "
            "(highest)"} <= set(grid.legend)


def test_heat_runs_from_the_worst_cell_of_each_row_to_its_best(result):
    grid = layout(result.frame)
    for row in grid.rows:
        cells = sorted((c for c in grid.cells if c.row == row.index), key=lambda c: c.score)
        assert cells[0].score < cells[-1].score
        assert (cells[0].heat, cells[-1].heat) == (0.0, 1.0)


def test_the_probe_warning_names_what_clip_sees_when_it_is_not_the_subject(result):
    grid = layout(result.frame)
    for cell in grid.cells:
        for image in cell.images:
            seen = result.frame.iloc[image.position]["probe_top3"][0]["label"]  # the label CLIP ranks first
            assert (f"⚠ sees {seen}" in image.marks) == (seen != "melanoma")


def test_an_output_that_is_not_an_image_says_why_and_has_no_badges(result):
    frame = result.frame.copy()
    frame.loc[0, "image_problem"] = "black image"
    frame.loc[0, ["clip_prompt", "domain_score", "criteria_score"]] = np.nan
    frame.loc[0, "criteria_passed"] = np.nan
    frame.at[0, "criteria"], frame.at[0, "probe_top3"] = None, None
    image = layout(frame).cells[0].images[0]
    assert (image.badges, image.problem) == ([], "black image") and "⚠ black image" in image.marks


def test_a_partial_frame_lays_out_with_its_missing_cell_absent(result):
    frame = result.frame
    partial = frame[~((frame["row"] == 1) & (frame["column"] == 1)) & ~((frame["row"] == 0) & (frame["seed"] == 1))]
    grid = layout(partial)
    assert grid.cell(1, 1) is None and [h.index for h in grid.columns] == [0, 1] and len(grid.rows) == 2
    assert [image.position for image in grid.cell(0, 1).images] == [1]  # its place in the partial frame
    assert grid.cell(1, 0).heat == 1.0  # alone in its row
    assert draw(partial, [result.images[i] for i in np.flatnonzero(frame.index.isin(partial.index))]).width > 0


def test_a_frame_of_the_generate_step_alone_has_no_badges_and_no_heat(result):
    grid = layout(result.frame[of_step("generate")])
    assert all(image.badges == [] and image.marks == [] for cell in grid.cells for image in cell.images)
    assert all(cell.heat is None and cell.score is None for cell in grid.cells) and grid.legend == []


def test_heat_colours_are_light_distinct_and_grey_when_unscored():
    def contrast_with_black(rgb: tuple[int, int, int]) -> float:
        linear = [(v / 255) / 12.92 if v <= 10 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in rgb]
        return (0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2] + 0.05) / 0.05

    colours = [heat_colour(h) for h in np.linspace(0, 1, 11)]
    assert heat_colour(0.0) != heat_colour(1.0) and heat_colour(0.0)[0] > heat_colour(0.0)[1]  # reddish
    assert heat_colour(1.0)[1] > heat_colour(1.0)[0]  # greenish
    grey = heat_colour(None)
    assert grey[0] == grey[1] == grey[2] and grey not in colours
    assert min(contrast_with_black(c) for c in [*colours, grey]) > 10  # dark text reads on every cell


def test_text_wraps_within_its_width_and_cuts_with_an_ellipsis():
    font = Style.for_thumb(192).body
    text = "A photo of melanoma, a clinical photograph taken in a hospital " * 3 + "Pneumonoultramicroscopicsilicosis"
    lines = wrap(text, font, 150)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost, no glyph split
    assert all(font.getlength(line) <= 150 for line in lines)
    cut_lines = cut(lines, font, 150, 3)
    assert len(cut_lines) == 3 and cut_lines[-1].endswith("…") and font.getlength(cut_lines[-1]) <= 150


def test_the_png_grows_with_columns_and_rows_and_labels_its_header(result, tmp_path):
    frame, images = result.frame, result.images
    full = draw(frame, images)
    one_column = frame["column"] == 0
    one_row = frame["row"] == 0
    narrow = draw(frame[one_column], [im for im, keep in zip(images, one_column) if keep])
    short = draw(frame[one_row], [im for im, keep in zip(images, one_row) if keep])
    assert narrow.width < full.width and narrow.height <= full.height
    assert short.height < full.height and short.width == full.width
    assert dark_pixels(full.crop((0, 0, full.width, 40))) > 100  # the column titles
    path = save(frame, images, tmp_path / "grid.png")
    assert Image.open(path).size == full.size


def test_a_four_by_four_by_four_grid_stays_a_readable_size():
    frame, images = synthetic()
    image = draw(frame, images)
    assert 4 * 4 * 192 < image.width < 6000 and 4 * 192 < image.height < 6000
    assert dark_pixels(image.crop((0, 0, image.width, 40))) > 100
    grid = layout(frame)
    assert any("⚠ sees a pulmonary nodule" in i.marks and "cached" in i.marks for c in grid.cells for i in c.images)


def test_draw_needs_one_image_per_frame_row(result):
    with pytest.raises(PlaygroundError, match="one image per frame row, but got 7 images for 8 rows"):
        draw(result.frame, result.images[:7])
