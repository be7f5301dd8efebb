"""The Study tab in a real browser: rate a few conditions blind, then see the per-category medians."""

import re

from playwright.sync_api import expect

from playground.research.study import RatingSession

from .test_sweep_study import quick_run  # noqa: F401 - a fixture shared with the sweep tests


def test_rate_blind_then_read_the_medians(page, app_url, quick_run):
    page.goto(app_url)
    page.get_by_role("tab", name="Study").click()
    page.locator("#study-run input").click()
    page.get_by_role("option", name="quick").click()
    page.locator("#study-rater textarea").fill("dana")
    page.locator("#study-start").click()
    header = page.locator("#study-header")
    header.get_by_text("Condition 1 of 8").wait_for(timeout=30_000)
    body = page.locator("body").inner_text()
    assert "CFG" not in body and "A microscopic image" not in body  # nothing of the settings or prompt
    for number, (style, content) in enumerate([("3: mainly correct", "2: clear signs of correct"),
                                               ("1: hints of correct", "0: completely wrong")], start=2):
        page.locator("#study-style").get_by_text(style).click()
        page.locator("#study-content").get_by_text(content).click()
        page.locator("#study-submit").click()
        header.get_by_text(f"Condition {number} of 8").wait_for(timeout=30_000)
    assert len(RatingSession(quick_run, 0).ratings().query("rater == 'dana'")) == 2

    page.locator("#study-stats").click()
    page.locator("#study-stats-note").get_by_text(re.compile(r"\d+ ratings by")).wait_for(timeout=60_000)
    summary = page.locator("#study-summary").inner_text()
    assert "median" in summary and ("microscopy" in summary or "histopathology" in summary)
    agreement = page.locator("#study-agreement").inner_text()
    assert "judge vs experts" in agreement and "judge vs judge" in agreement and "clip_prompt" in agreement
    assert page.locator("#study-agreement-plot img").count() == 1


def test_the_original_study_is_shown_and_a_compare_grid_becomes_a_run_to_rate(page, app_url):
    page.goto(app_url)
    page.locator("#subject textarea").fill("basal cell carcinoma")
    page.locator("#generate").click()
    expect(page.locator("#grid figcaption")).to_have_count(8, timeout=120_000)
    page.get_by_role("tab", name="Study").click()
    note = page.locator("#original-study-note")
    note.get_by_text(re.compile("The original study")).wait_for(timeout=60_000)
    summary = page.locator("#original-study-summary").inner_text()
    assert "median" in summary and "illustration" in summary
    expect(page.locator("#original-study-plot img")).to_have_count(1)

    page.locator("#study-from-compare").click()
    page.locator("#study-header").get_by_text(re.compile(r"is now run compare-")).wait_for(timeout=30_000)
    page.locator("#study-rater textarea").fill("ari")
    page.locator("#study-start").click()
    page.locator("#study-header").get_by_text("Condition 1 of 4").wait_for(timeout=30_000)  # 2 prompts x 2 rows
    expect(page.locator("#study-images img")).to_have_count(2)  # the cell's seeds, blinded
