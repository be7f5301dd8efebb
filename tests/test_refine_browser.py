"""Refine in a real browser: a grid image refined with expert feedback, its trajectory shown, and a
refined step preferred to the library with its parent."""

import re

from playwright.sync_api import expect

from playground.stores.library import Library


def test_refine_a_grid_image_then_prefer_a_refined_step_with_its_parent(page, app_url):
    page.goto(app_url)
    page.locator("#subject textarea").fill("melanoma")
    page.locator("#generate").click()
    grid = page.locator("#grid")
    expect(grid.locator("figcaption")).to_have_count(8, timeout=120_000)
    grid.locator("td[data-row='0'][data-column='1'] summary").first.click()  # enlarge and select image 2
    grid.locator(".pg-zoom[open] > summary").click(position={"x": 5, "y": 5})
    expect(page.locator("#selected input")).to_have_value("3")

    page.locator("#refine-panel").get_by_text("Refine the selected image with expert feedback").click()
    page.locator("#refine").click()
    trajectory = page.locator("#trajectory")
    trajectory.get_by_text(re.compile(r"round 1, candidate 2")).first.wait_for(timeout=180_000)
    expect(page.locator("#refine-status")).to_contain_text(re.compile(r"(Stopped after round|Ran all)"), timeout=180_000)
    table = page.locator("#trajectory-table").inner_text()
    assert "flipped" in table and "checklist score" in table
    trajectory.get_by_text(re.compile(r"^#1 · round 1, candidate 1")).click()  # the first refined candidate
    expect(page.locator("#refine-step input")).to_have_value("1")
    page.locator("#prefer-step").click()
    status = page.locator("#refine-status")
    status.get_by_text(re.compile(r"record #\d+ \(round 1, parent")).wait_for(timeout=30_000)
    record_id = int(re.search(r"record #(\d+)", status.inner_text()).group(1))
    record = Library().get(record_id)
    assert record["refine_round"] == 1 and record["strength"] == 0.3

    page.locator("#refine-step input").fill("0")  # the grid image it started from
    page.locator("#prefer-step").click()
    status.get_by_text(re.compile(r"record #\d+ \(the start\)")).wait_for(timeout=30_000)
    start_id = int(re.search(r"record #(\d+)", status.inner_text()).group(1))
    assert record["parent"] == Library().get(start_id)["content_hash"]  # the refined image's parent
