"""The Compare tab in a real headless Chromium, as a visitor uses it."""

import re
from pathlib import Path
from urllib.parse import unquote

from playwright.sync_api import expect

from playground.stores.library import Library

from .conftest import ARTIFACTS


def test_generate_read_a_score_and_prefer(page, app_url):
    page.goto(app_url)
    assert "Offline demo mode" in page.locator("#offline-banner").inner_text()
    subject = page.locator("#subject textarea")
    subject.fill("melanoma")
    page.locator("#generate").click()
    first_caption = page.locator("#grid").get_by_text(re.compile(r"^CLIP \d+\.\d")).first
    first_caption.wait_for(timeout=120_000)
    expect(page.locator("#grid figcaption")).to_have_count(8, timeout=120_000)
    score = float(re.match(r"CLIP (\d+\.\d)", first_caption.inner_text()).group(1))
    assert 0 <= score <= 100
    assert "A histopathological image of melanoma" in page.locator("#results").inner_text()
    bars = page.locator("#mean-plot [aria-roledescription=bar]")
    expect(bars).to_have_count(4)  # a bar for every cell: 2 templates (2 colours) x 2 rows

    before = len(Library().to_frame())
    page.locator("#prefer").click()  # nothing selected yet: one message
    expect(page.locator(".toast-body")).to_contain_text("Select an image first")
    page.locator("#grid figure").first.locator("summary").click()  # enlarge and select image #1
    page.locator(".pg-zoom[open] > summary").click(position={"x": 5, "y": 5})
    expect(page.locator("#selected input")).to_have_value("1")
    page.locator("#prefer").click()
    status = page.locator("#prefer-status")
    status.get_by_text(re.compile("record #")).wait_for(timeout=30_000)
    assert len(Library().to_frame()) == before + 1


def test_the_first_screen_holds_the_subject_and_generate_and_a_phone_does_not_scroll_sideways(page, app_url):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(app_url)
    for part in ("#subject textarea", "#generate", "#models"):
        box = page.locator(part).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 1000, (part, box)  # no scrolling to reach it
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator("#generate").wait_for()
    width, seen = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width <= seen  # wide tables scroll inside their own box, not the page


def shown_trackers(page) -> list[str]:
    """The elem_ids of the outputs whose status tracker (progress, or an "Error" pill) is showing."""
    trackers = page.locator("[data-testid=status-tracker]").all()
    return [t.evaluate("e => e.closest('[id]')?.id") for t in trackers if "hide" not in (t.get_attribute("class") or "")]


def test_one_progress_bar_and_a_mistake_is_one_message_that_keeps_the_grid(page, app_url, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_BATCH", "1")  # 8 batches: the first is on screen while the rest are drawn
    page.goto(app_url)
    page.locator("#subject textarea").fill("melanoma")
    page.locator("#generate").click()
    figures = page.locator("#grid figcaption")
    figures.first.wait_for(timeout=120_000)
    assert set(shown_trackers(page)) <= {"grid"}  # the grid's bar only: no spinner on prompts, plot or table
    expect(figures).to_have_count(8, timeout=120_000)
    page.locator("#subject textarea").fill("")
    page.locator("#generate").click()
    expect(page.locator(".toast-body")).to_contain_text("The subject is empty")
    expect(page.locator(".toast-body")).to_have_count(1)
    assert shown_trackers(page) == []  # no "Error" pill over any output
    expect(figures).to_have_count(8)  # the grid shown stays


def test_an_example_fills_the_subject_and_generate_draws_it(page, app_url):
    page.goto(app_url)
    page.get_by_role("button", name="melanoma").click()
    expect(page.locator("#subject textarea")).to_have_value("melanoma")
    expect(page.get_by_label("Column 1 prompt (editable)")).to_have_value(re.compile("melanoma"))
    assert page.locator("#grid figcaption").count() == 0  # filling the subject draws nothing yet
    page.locator("#generate").click()
    expect(page.locator("#grid").get_by_text(re.compile(r"^CLIP \d"))).to_have_count(8, timeout=120_000)
    assert "melanoma" in page.locator("#results").inner_text()


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
    expect(page.locator("#grid figcaption")).to_have_count(12, timeout=120_000)
    assert page.locator("#grid tbody th").get_by_text(re.compile(r"^r3 tiny-offline-sdxl · CFG 5")).count() == 1


def open_advanced(page) -> None:
    """Open the form's Advanced section (rows, seeds, size, Prompt S/R, scorers, PNG restore)."""
    page.locator("#advanced").get_by_text("Advanced:").first.click()
    expect(page.locator("#settings")).to_be_visible()
    expect(page.locator("#prompt-sr textarea")).to_be_editable()  # the section's last widgets are drawn too


def filled(box, value: str) -> None:
    """Type `value` into `box` until it holds it: a box in a just-opened accordion may be drawn
    again once, with its value from before."""
    for _ in range(5):
        box.fill(value)
        try:
            expect(box).to_have_value(value, timeout=2_000)
            return
        except AssertionError:
            continue


def settings_cells(page) -> list[str]:
    """The settings table's cells, row by row, as shown."""
    cells = page.locator("#settings [role=gridcell]")
    by_place = {(int(c.get_attribute("data-row")), int(c.get_attribute("data-col"))): c.inner_text().strip()
                for c in cells.all()}
    return [text for _, text in sorted(by_place.items()) if text]


def test_choosing_another_model_brings_its_recommended_rows(page, app_url):
    page.goto(app_url)
    open_advanced(page)
    expect(page.locator("#settings")).to_contain_text("7.5")  # the table has rendered its rows
    assert settings_cells(page) == ["4", "20", "default", "0", "7.5", "20", "default", "0"]
    models = page.locator("#models input")
    models.click()
    models.fill("tiny-offline-flux")
    models.press("Enter")
    page.locator("#models .token-remove[title='Remove 0']").click()  # leaves FLUX alone
    page.locator("#rows-note").get_by_text(re.compile("tiny-offline-flux`?: CFG 3.5 · 10 steps")).wait_for(timeout=30_000)
    expect(page.locator("#rows-note")).not_to_contain_text("tiny-offline:")  # the removed model's rows are gone
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
    captions = page.locator("#grid").get_by_text(re.compile(r"^CLIP \d.*domain \d.*VLM \d"))
    expect(captions).to_have_count(8, timeout=120_000)  # every image: its domain score and its judge's checklist score
    results = page.locator("#results").inner_text()
    assert "tiny-offline-hf-clip" in results and "→ VLM" in results and "✓ " in results


def test_dropping_a_png_the_app_wrote_restores_its_settings(page, app_url, tmp_path):
    from playground import GuidanceSetting, compare

    saved = compare("psoriasis", ["photo-detailed"], [GuidanceSetting(6.5, 3, "Euler a")], images_per_cell=1,
                    base_seed=41, folder=tmp_path / "grid")
    png = saved.frame["image_path"][0]
    page.goto(app_url)
    open_advanced(page)
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
    expect(grid.locator("figcaption")).to_have_count(8, timeout=120_000)
    page.get_by_label("Column 2 prompt (editable)").fill("An H&E image of eczema, in a new wording")
    page.locator("#generate").click()
    page.locator("#legend").get_by_text(re.compile("in a new wording")).wait_for(timeout=120_000)
    expect(grid.locator("figcaption")).to_have_count(8, timeout=120_000)
    expect(grid.locator("td[data-column='1'] figcaption").first).not_to_contain_text("cached", timeout=120_000)
    first = grid.locator("td[data-column='0'] figcaption").all_inner_texts()
    second = grid.locator("td[data-column='1'] figcaption").all_inner_texts()
    assert len(first) == len(second) == 4
    assert all("· cached" in c for c in first) and not any("cached" in c for c in second)


def test_the_grid_is_headed_by_templates_and_settings_and_an_image_enlarges(page, app_url):
    page.goto(app_url)
    page.locator("#subject textarea").fill("psoriasis")
    page.locator("#generate").click()
    grid = page.locator("#grid")
    grid.locator("figcaption").first.wait_for(timeout=120_000)
    expect(grid.locator("figcaption")).to_have_count(8, timeout=120_000)
    columns = grid.locator("thead th").all_inner_texts()
    assert [c.strip() for c in columns[1:]] == ["c1 histopathology-short", "c2 histopathology-detailed"]
    rows = [r.strip() for r in grid.locator("tbody th").all_inner_texts()]
    assert rows == ["r1 tiny-offline · CFG 4 · 20 steps · default", "r2 tiny-offline · CFG 7.5 · 20 steps · default"]
    grid.locator("thead summary").first.click()  # a column header expands to its filled prompt
    expect(grid.locator("thead .pg-prompt").first).to_contain_text("psoriasis")
    colours = {td.get_attribute("style") for td in grid.locator("td").all()}
    assert len(colours) > 1  # heat-coloured: the best cell of a row stands out
    grid.locator("td[data-row='1'][data-column='1'] summary").last.click()
    enlarged = grid.locator("details[open] .pg-full")
    expect(enlarged).to_be_visible()
    assert "CLIP sees:" in enlarged.inner_text() and "criteria" in enlarged.inner_text()
    expect(page.locator("#selected input")).to_have_value("8")  # the image clicked is selected for Prefer
    expect(grid.locator("figure.pg-selected")).to_have_count(1)  # and outlined on the grid, under its number
    expect(grid.locator("figure.pg-selected .pg-num")).to_have_text("#8")
    page.screenshot(path=str(ARTIFACTS / "grid-enlarged.png"))
    grid.locator(".pg-zoom[open] > summary").click(position={"x": 5, "y": 5})  # the backdrop closes it
    expect(grid.locator("details[open] .pg-full")).to_have_count(0)

    details = page.locator("#selected-details")
    expect(details).to_contain_text("Image 8 ·")
    seed = re.search(r"seed (\d+)", details.inner_text()).group(1)
    page.locator("#rerun-cell").click()  # the selected image is redrawn with a new seed: its details follow
    expect(details).not_to_contain_text(f"seed {seed}", timeout=120_000)
    expect(details).to_contain_text("Image 8 ·")
    page.get_by_label("Note (optional)").fill("the better one")
    page.locator("#prefer").click()
    expect(page.locator("#prefer-status")).to_contain_text("record #", timeout=30_000)
    page.locator("#generate").click()  # a new grid: nothing of the old selection stays
    expect(page.locator("#selected input")).to_have_value("0")
    expect(details).to_have_text("")
    expect(page.get_by_label("Note (optional)")).to_have_value("")
    expect(page.locator("#prefer-status")).to_have_text("")
    expect(grid.locator("figcaption")).to_have_count(8, timeout=120_000)
    assert grid.locator("img").first.evaluate("img => img.naturalWidth") > 0  # served, not a broken link


def test_images_stream_in_and_stop_keeps_what_is_done(page, app_url, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_BATCH", "1")  # one image per batch: 16 batches (the app runs in this process)
    page.goto(app_url)
    page.locator("#subject textarea").fill("melanoma")
    open_advanced(page)
    filled(page.locator("#prompt-sr textarea"), "histopathological, microscopic, schematic, macroscopic")
    expect(page.locator("#prompt-sr textarea")).to_have_value("histopathological, microscopic, schematic, macroscopic")
    page.locator("#generate").click()
    figures = page.locator("#grid figcaption")
    figures.first.wait_for(timeout=120_000)  # the first batch is on screen before the grid is done
    page.locator("#stop").click()
    tracker = page.locator("#grid [data-testid=status-tracker]")
    expect(tracker).to_have_class(re.compile(r"\bhide\b"), timeout=60_000)  # the stopped event has ended
    assert 0 < figures.count() < 16
    expect(page.locator(".toast-body")).to_contain_text(re.compile(r"Stopped after \d+ of \d+ images, as asked"))
    headers = [h.strip() for h in page.locator("#grid thead th").all_inner_texts()[1:]]
    assert headers[0] == "c1 histopathology-short · S/R: histopathological"
    expect(page.locator("#download")).to_contain_text(re.compile(r"comparison\s*\.zip"))  # saved so far: images and ZIP
    src = page.locator("#grid img").first.get_attribute("src")
    stopped = Path(unquote(src.split("file=", 1)[1])).parent  # the stopped grid's folder

    page.locator("#prompt-sr textarea").fill("")  # a second grid: it runs once the stopped one has ended
    page.locator("#generate").click()
    expect(page.locator("#grid thead summary").first).to_have_text("c1 histopathology-short", timeout=120_000)
    expect(figures).to_have_count(8, timeout=120_000)
    drawn = len(list(stopped.glob("r*.png")))
    assert 0 < drawn < 16  # nothing more was drawn once stopped, on screen or behind it
