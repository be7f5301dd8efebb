"""The Library tab in a real browser: prefer -> find -> pick a row -> upvote (once) -> open in Compare -> export."""

import re
from pathlib import Path

from playwright.sync_api import expect

from playground.stores.library import Library

XSS = "<img src=x onerror=alert(1)>"


def generate_and_prefer(page, subject: str) -> int:
    box = page.locator("#subject textarea")
    box.fill(subject)
    page.locator("#generate").click()
    page.locator("#grid").get_by_text(re.compile(r"^CLIP \d")).first.wait_for(timeout=120_000)
    page.locator("#selected input").fill("1")
    page.locator("#prefer").click()
    status = page.locator("#prefer-status").get_by_text(re.compile(r"record #\d+"))
    status.wait_for(timeout=30_000)
    return int(re.search(r"#(\d+)", status.inner_text()).group(1))


def test_prefer_find_upvote_reopen_and_export(page, app_url):
    page.goto(app_url)
    record = generate_and_prefer(page, "pancreatic neuroendocrine tumor")

    page.get_by_role("tab", name="Library").click()
    page.locator("#library-search textarea").fill("neuroendocrine")
    page.locator("#library-refresh").click()
    table = page.locator("#library-table")
    table.get_by_text("A histopathological image of pancreatic neuroendocrine tumor").last.wait_for(timeout=20_000)

    table.get_by_text("A histopathological image of pancreatic neuroendocrine tumor").last.click()  # a row picks it
    expect(page.locator("#library-record input")).to_have_value(str(record))
    status = page.locator("#library-status")
    page.locator("#library-upvote").click()
    status.get_by_text(re.compile(f"[Rr]ecord #{record}")).wait_for(timeout=20_000)
    votes = Library().get(record)["votes"]
    page.locator("#library-upvote").click()  # one visitor counts once per record
    status.get_by_text(f"Your vote for record #{record} was counted already (votes: {votes})").wait_for(
        timeout=20_000)
    assert Library().get(record)["votes"] == votes

    page.locator("#library-open").click()
    page.get_by_role("tab", name="Compare", selected=True).wait_for(timeout=20_000)
    assert page.locator("#subject textarea").input_value() == "pancreatic neuroendocrine tumor"

    page.get_by_role("tab", name="Library").click()
    page.get_by_label("jsonl").check()
    page.get_by_role("button", name="Export", exact=True).click()
    link = page.locator("#library-export-file a[download]").first
    link.wait_for(timeout=20_000)
    with page.expect_download() as download:
        link.click()
    assert "pancreatic neuroendocrine tumor" in Path(download.value.path()).read_text(encoding="utf-8")


def test_user_text_is_shown_as_text_never_run_as_html(page, app_url):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(app_url)
    generate_and_prefer(page, XSS)
    assert page.locator("img[src='x']").count() == 0  # grid captions, legend, table, details
    page.get_by_role("tab", name="Library").click()
    page.locator("#library-refresh").click()
    cells = page.locator("#library-table").get_by_text(XSS, exact=True)
    cells.last.wait_for(timeout=20_000)
    assert page.locator("img[src='x']").count() == 0
    page.get_by_role("tab", name="Educators").click()
    page.locator("#confusion-cases").get_by_text("a gravestone or a graveyard").last.wait_for(timeout=20_000)
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []
