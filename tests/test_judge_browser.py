"""The Judge tab in a real browser: uploaded images (one of the app's own PNGs, a JPEG, a grey PNG)
judged with Compare's badges, enlarged view and results table, one row per image."""

import re

from PIL import Image
from playwright.sync_api import expect

from playground import GuidanceSetting, compare

from .test_browser import shown_trackers
from .test_judge_files import SUBJECT, noise


def test_the_judge_tab_shows_each_uploaded_image_judged_with_badges_and_a_table_row(page, app_url, tmp_path):
    drawn = compare(SUBJECT, ["xray-short"], [GuidanceSetting(4, steps=2)], images_per_cell=1, folder=tmp_path / "grid")
    Image.fromarray(noise((48, 64, 3), 5)).save(tmp_path / "photo.jpg")
    Image.fromarray(noise((64, 64), 6)).save(tmp_path / "grey.png")
    uploads = [drawn.frame["image_path"].iloc[0], str(tmp_path / "photo.jpg"), str(tmp_path / "grey.png")]

    page.goto(app_url)
    page.get_by_role("tab", name="Judge").click()
    page.locator("#judge-files input[type=file]").set_input_files(uploads)
    expect(page.locator("#judge-files").get_by_role("button", name="Remove this file")).to_have_count(3)  # uploaded
    page.locator("#judge-subject textarea").fill(SUBJECT)
    page.locator("#judge-run").click()

    grid = page.locator("#judge-grid")
    expect(grid.locator("figcaption")).to_have_count(3, timeout=120_000)
    expect(grid.locator("figcaption").filter(has_text=re.compile(r"^CLIP \d+\.\d · med \d"))).to_have_count(3)
    expect(page.locator("#judge-status")).to_contain_text("Judged 3 images")
    files = page.locator("#judge-results [role=gridcell][data-col='1']")  # the file column: one row per image
    expect(files).to_have_text(["r1-c1-s0.png", "photo.jpg", "grey.png"])
    assert "An x-ray image of cardiomegaly" in page.locator("#judge-results").inner_text()  # the app's PNG's own prompt
    expect(page.locator("#judge-csv")).to_contain_text("results.csv")

    grid.locator("figure summary").nth(2).click()  # the grey PNG, enlarged with its full evaluation
    enlarged = grid.locator(".pg-zoom[open] .pg-full")
    expect(enlarged).to_be_visible()
    expect(enlarged).to_contain_text(f"prompt: {SUBJECT}")
    expect(enlarged).to_contain_text("clip_prompt:")
    assert shown_trackers(page) == []  # no "Error" pill anywhere
