"""The Educators tab in a real browser: the confusion gallery, reproduced in Compare in one click."""

import re

from playwright.sync_api import expect

from playground.catalog.curated import load_curated


def test_cases_are_listed_and_one_click_reproduces_a_case_in_compare(page, app_url):
    page.goto(app_url)
    page.get_by_role("tab", name="Educators").click()
    pictures = page.locator("#confusion-gallery")
    cases = len(load_curated().confusions)
    expect(pictures.locator("figure")).to_have_count(cases)  # every case at once, drawn or a slot for it
    expect(pictures.locator("#cases-drawn")).to_contain_text(re.compile(rf"^\d+ of {cases} cases drawn on tiny-offline"))
    expect(pictures.get_by_text(re.compile("CLIP sees:"))).to_have_count(cases, timeout=120_000)
    expect(pictures.locator("#cases-drawn")).to_have_text(f"{cases} of {cases} cases drawn on tiny-offline")
    assert pictures.locator("img").count() == len(load_curated().confusions)
    page.wait_for_function("() => [...document.querySelectorAll('#confusion-gallery img')]"
                           ".every(img => img.complete && img.naturalWidth > 0)")  # served, not broken links
    cases = page.locator("#confusion-cases")
    cases.get_by_text("a gravestone or a graveyard").last.wait_for(timeout=20_000)
    assert len(load_curated().confusions) >= 12
    for case in load_curated().confusions:
        assert cases.get_by_text(case.draws, exact=True).count() >= 1

    page.locator("#reproduce").click()  # the first case: Graves' disease
    page.get_by_role("tab", name="Compare", selected=True).wait_for(timeout=20_000)
    captions = page.locator("#grid figcaption")
    expect(captions).to_have_count(8, timeout=120_000)
    assert all(re.match(r"CLIP \d", c) for c in captions.all_inner_texts())
    assert page.locator("#subject textarea").input_value() == "Graves' disease"
    results = page.locator("#results").inner_text()
    assert "CLIP guidance 100" in results and "photo-detailed" in results
    assert "gravestone" in results or "Graves' disease" in results  # the probe column names its labels
