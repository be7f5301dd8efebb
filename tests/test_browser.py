"""The Compare tab in a real headless Chromium, as a visitor uses it."""

import re

from playwright.sync_api import expect

from playground.library import Library


def test_generate_read_a_score_and_prefer(page, app_url):
    page.goto(app_url)
    assert "Offline demo mode" in page.locator("#offline-banner").inner_text()
    subject = page.locator("#subject textarea")
    subject.fill("melanoma")
    page.locator("#generate").click()
    first_caption = page.locator("#grid").get_by_text(re.compile(r"^CLIP \d+\.\d")).first
    first_caption.wait_for(timeout=120_000)
    score = float(re.match(r"CLIP (\d+\.\d)", first_caption.inner_text()).group(1))
    assert 0 <= score <= 100
    assert "A histopathological image of melanoma" in page.locator("#results").inner_text()

    before = len(Library().to_frame())
    page.locator("#prefer").click()
    status = page.locator("#prefer-status")
    status.get_by_text(re.compile("record #")).wait_for(timeout=30_000)
    assert len(Library().to_frame()) == before + 1


def test_one_click_on_an_example_fills_the_grid(page, app_url):
    page.goto(app_url)
    page.get_by_role("button", name="Graves' disease").click()
    page.locator("#grid").get_by_text(re.compile(r"^CLIP \d")).first.wait_for(timeout=120_000)
    assert page.locator("#grid").get_by_text(re.compile(r"^CLIP \d")).count() == 8
    assert "Graves' disease" in page.locator("#results").inner_text()


def test_two_models_side_by_side_are_a_labelled_axis(page, app_url):
    page.goto(app_url)
    page.locator("#subject textarea").fill("melanoma")
    models = page.locator("#models input")
    models.click()
    models.fill("tiny-offline-sdxl")
    models.press("Enter")
    note = page.locator("#rows-note")
    note.get_by_text(re.compile("tiny-offline-sdxl")).wait_for(timeout=30_000)
    assert "each model's recommended setting" in note.inner_text()
    page.locator("#generate").click()
    legend = page.locator("#legend")
    legend.get_by_text(re.compile("row r3: tiny-offline-sdxl")).wait_for(timeout=120_000)
    assert "each line is a model × guidance setting" in legend.inner_text()
    assert "row r1: tiny-offline · CFG 4" in legend.inner_text()
    captions = page.locator("#grid").get_by_text(re.compile(r"^CLIP \d"))
    assert captions.count() == 12
    assert page.locator("#grid").get_by_text(re.compile(r"r3 tiny-offline-sdxl · CFG 5")).count() == 4


def settings_cells(page) -> list[str]:
    """The settings table's cells, row by row, as shown."""
    body = page.locator("#settings").inner_text().split("clip_guidance_scale", 1)[1].split("Drop CSV")[0]
    return [cell.strip() for cell in body.split("\n") if cell.strip()]


def test_choosing_another_model_brings_its_recommended_rows(page, app_url):
    page.goto(app_url)
    expect(page.locator("#settings")).to_contain_text("7.5")  # the table has rendered its rows
    assert settings_cells(page) == ["4", "20", "default", "0", "7.5", "20", "default", "0"]
    models = page.locator("#models input")
    models.click()
    models.fill("tiny-offline-flux")
    models.press("Enter")
    page.locator("#models .token-remove[title='Remove 0']").click()  # leaves FLUX alone
    page.locator("#rows-note").get_by_text(re.compile("tiny-offline-flux`?: CFG 3.5 · 10 steps")).wait_for(timeout=30_000)
    assert "tiny-offline:" not in page.locator("#rows-note").inner_text()
    expect(page.locator("#settings")).not_to_contain_text("7.5")
    assert settings_cells(page) == ["3.5", "10", "default", "0"]


def test_judges_and_the_confusion_warning_show_in_compare(page, app_url):
    page.goto(app_url)
    page.locator("#subject textarea").fill("Graves' disease")
    page.get_by_label("Column 1 prompt (editable)").fill("a gravestone")
    page.locator("#generate").click()
    warning = page.locator("#confusion-warning")
    warning.get_by_text(re.compile('closer to "a gravestone" than to "Graves\' disease"')).wait_for(timeout=60_000)
    assert "Try the detailed wording" in warning.inner_text()
    page.locator("#grid").get_by_text(re.compile(r"^CLIP \d")).first.wait_for(timeout=120_000)
    captions = page.locator("#grid").get_by_text(re.compile(r"^CLIP \d.*domain \d.*judge \d"))
    assert captions.count() == 8  # every image: its domain score and its judge's checklist score
    results = page.locator("#results").inner_text()
    assert "tiny-offline-hf-clip" in results and "→ judge" in results and "· CLIP" in results


def test_dropping_a_png_the_app_wrote_restores_its_settings(page, app_url, tmp_path):
    from playground import GuidanceSetting, compare

    saved = compare("psoriasis", ["photo-detailed"], [GuidanceSetting(6.5, 3, "Euler a")], images_per_cell=1,
                    base_seed=41, folder=tmp_path / "grid")
    png = saved.frame["image_path"][0]
    page.goto(app_url)
    page.locator("#restore-png input[type=file]").set_input_files(png)
    page.locator("#restore-status").get_by_text("Restored from").wait_for(timeout=30_000)
    assert page.locator("#subject textarea").input_value() == "psoriasis"
    assert settings_cells(page)[:3] == ["6.5", "3", "Euler a"]
    assert page.locator("input[aria-label='Base seed']").input_value() == "41"


def test_after_editing_one_column_the_other_cells_are_marked_cached(page, app_url, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_IMAGE_CACHE_MB", "64")  # the app runs in this process
    page.goto(app_url)
    page.locator("#subject textarea").fill("eczema")
    page.locator("#generate").click()
    grid = page.locator("#grid")
    grid.get_by_text(re.compile(r"^CLIP \d")).first.wait_for(timeout=120_000)
    page.get_by_label("Column 2 prompt (editable)").fill("An H&E image of eczema, in a new wording")
    page.locator("#generate").click()
    page.locator("#legend").get_by_text(re.compile("in a new wording")).wait_for(timeout=120_000)
    captions = grid.get_by_text(re.compile(r"^CLIP \d")).all_inner_texts()
    first, second = [c for c in captions if " c1 " in c], [c for c in captions if " c2 " in c]
    assert len(first) == len(second) == 4
    assert all(c.endswith("· cached") for c in first) and not any("cached" in c for c in second)
