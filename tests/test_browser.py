"""The Compare tab in a real headless Chromium, as a visitor uses it."""

import re

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
