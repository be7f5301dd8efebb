"""The Study tab in a real browser and through gradio_client: rate a few conditions blind, see whole
images and as many "best image" choices as images, a mistake as one message that changes nothing,
a rater's name held by its key, a visitor's own run listed for that visitor only, and statistics
in plain words."""

import re

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from playwright.sync_api import expect

from playground.config import get_settings
from playground.research import access
from playground.research.blind import pseudonyms
from playground.research.study import RatingSession

from .test_browser import shown_trackers
from .test_sweep_study import quick_run  # noqa: F401 - a fixture shared with the sweep tests

WHOLE = """e => {  // every image drawn whole: nothing scrolled out of its box, nothing cropped
    const wrap = e.querySelector('.grid-wrap'), box = wrap.getBoundingClientRect();
    return [wrap.scrollHeight <= wrap.clientHeight + 1, [...e.querySelectorAll('img')].every(img => {
        const r = img.getBoundingClientRect();
        return getComputedStyle(img).objectFit === 'contain' && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    })];
}"""


def open_study(page, app_url) -> None:
    page.goto(app_url)
    page.get_by_role("tab", name="Study").click()
    page.locator("#original-study-note").get_by_text("The original study").wait_for(timeout=60_000)  # loaded


def start(page, run: str, rater: str) -> None:
    page.locator("#study-run input").click()
    page.get_by_role("option", name=run).click()
    page.locator("#study-rater textarea").fill(rater)
    page.locator("#study-start").click()


def offered_runs(page) -> list[str]:
    page.locator("#study-run input").click()
    names = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return [name.split("\n")[-1].strip() for name in names]  # the chosen one is marked "✓\n"


def read_statistics(page) -> None:
    """Show the statistics: plain headers, a word where rho says little, alpha between raters, and
    plots drawn whole (their titles included)."""
    page.locator("#study-stats").click()
    page.locator("#study-stats-note").get_by_text(re.compile(r"\d+ ratings by")).wait_for(timeout=60_000)
    assert "Krippendorff's alpha" in page.locator("#study-stats-note").inner_text()
    summary = page.locator("#study-summary").inner_text()
    assert "median" in summary and ("microscopy" in summary or "histopathology" in summary)
    agreement = page.locator("#study-agreement")
    for header_text in ("Judge", "Compared with", "Spearman's rho", "95% interval", "Pairs", "Note"):
        expect(agreement.get_by_role("columnheader", name=header_text, exact=True)).to_have_count(1)
    assert "experts' style ratings" in agreement.inner_text() and "kind" not in agreement.inner_text()
    assert re.search(r"pair\(s\) with both values|too wide to tell", agreement.inner_text())  # why rho says little
    for plot in ("#study-boxplot img", "#study-agreement-plot img"):
        drawn, natural = page.locator(plot).evaluate(
            "img => [img.getBoundingClientRect().width / img.getBoundingClientRect().height,"
            " img.naturalWidth / img.naturalHeight]")
        assert drawn == pytest.approx(natural, rel=0.02), plot  # scaled whole, not cropped


@pytest.mark.usefixtures("quick_run")
def test_rate_blind_then_read_the_statistics_in_plain_words(page, browser, app_url):
    run = get_settings().runs_dir / "quick"
    open_study(page, app_url)
    start(page, "quick", "dana")
    header = page.locator("#study-header")
    header.get_by_text("Condition 1 of 8").wait_for(timeout=30_000)
    key = header.locator("code").inner_text()  # handed out once, on the first start
    assert access.KEY.fullmatch(key) and "Your rater key" in header.inner_text()
    body = page.locator("body").inner_text()
    assert "CFG" not in body and "A microscopic image" not in body  # nothing of the settings or prompt
    images = page.locator("#study-images img")
    expect(images).to_have_count(2)
    assert page.locator("#study-images").evaluate(WHOLE) == [True, True]
    assert page.locator("#study-best label").all_inner_texts() == ["no best image", "image 1", "image 2"]

    page.locator("#study-submit").click()  # nothing rated yet: one message, and the page stays as it was
    expect(page.locator(".toast-body")).to_contain_text("Rate both style and content")
    expect(page.locator(".toast-body")).to_have_count(1)
    assert shown_trackers(page) == []  # no "Error" pill over the images or the radios
    expect(images).to_have_count(2)
    expect(page.locator("#study-style label")).to_have_count(5)
    for number, (style, content) in enumerate([("3: mainly correct", "2: clear signs of correct"),
                                               ("1: hints of correct", "0: completely wrong")], start=2):
        page.locator("#study-style").get_by_text(style).click()
        page.locator("#study-content").get_by_text(content).click()
        page.locator("#study-submit").click()
        header.get_by_text(f"Condition {number} of 8").wait_for(timeout=30_000)
    dana = pseudonyms(run, ["dana"])["dana"]
    ratings = RatingSession(run, 0).ratings()
    assert (ratings["rater"] == dana).sum() == 2 and "dana" not in set(ratings["rater"])

    read_statistics(page)

    page.reload()  # this browser keeps the key: resuming needs nothing typed
    page.get_by_role("tab", name="Study").click()
    expect(page.locator("#study-rater-key input")).to_have_value(key)
    start(page, "quick", "dana")
    header.get_by_text("Condition 3 of 8").wait_for(timeout=30_000)
    assert "Your rater key" not in header.inner_text()

    elsewhere = browser.new_page()  # someone else typing her name gets nothing of hers
    open_study(elsewhere, app_url)
    start(elsewhere, "quick", "dana")
    expect(elsewhere.locator(".toast-body")).to_contain_text("'dana' is taken in this run")
    assert "Condition" not in elsewhere.locator("#study-header").inner_text()
    elsewhere.close()


@pytest.mark.usefixtures("quick_run")
def test_the_api_needs_the_rater_key_and_says_what_is_wrong(client, app_url):
    run = get_settings().runs_dir / "quick"
    header, _, _, key, kept = client.predict(run="quick", seed=0, rater="Erin Example", api_name="/study_start")
    assert key == kept and f"`{key}`" in header and "Condition 1 of 8" in header
    other = Client(app_url, verbose=False)  # another visitor, who knows only the name
    with pytest.raises(AppError, match="'Erin Example' is taken in this run"):
        other.predict(run="quick", seed=0, rater="Erin Example", api_name="/study_start")
    *_, own_key, _ = other.predict(run="quick", seed=0, rater="Mallory", api_name="/study_start")
    with pytest.raises(AppError, match="'Erin Example' is taken in this run"):  # rating under her name
        other.predict(run="quick", seed=0, rater="Erin Example", rater_key=own_key, style=1, content=1,
                      api_name="/study_rate")
    with pytest.raises(AppError, match="Rate both style and content"):
        client.predict(run="quick", seed=0, rater="Erin Example", rater_key=key, api_name="/study_rate")
    header, *_ = client.predict(run="quick", seed=0, rater="Erin Example", rater_key=key, style=2, content=3, best=1,
                                api_name="/study_rate")
    assert "Condition 2 of 8" in header and "rater key" not in header
    erin = pseudonyms(run, ["Erin Example"])["Erin Example"]
    ratings = RatingSession(run).ratings()
    assert ratings.loc[ratings["rater"] == erin, ["style", "content"]].values.tolist() == [[2, 3]]


@pytest.mark.usefixtures("quick_run")  # an operator's run, listed for everyone
def test_the_original_study_is_shown_and_a_compare_grid_becomes_a_run_for_that_browser_only(page, browser, app_url,
                                                                                          client):
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
    made = page.locator("#study-header").get_by_text(re.compile(r"is now run compare-"))
    made.wait_for(timeout=30_000)
    run = made.locator("code").inner_text()
    start(page, run, "ari")
    page.locator("#study-header").get_by_text("Condition 1 of 4").wait_for(timeout=30_000)  # 2 prompts x 2 rows
    expect(page.locator("#study-images img")).to_have_count(2)  # the cell's seeds, blinded
    page.reload()
    page.get_by_role("tab", name="Study").click()
    assert run in offered_runs(page) and "quick" in offered_runs(page)  # this browser keeps the run's key

    stranger = browser.new_page()
    open_study(stranger, app_url)
    assert run not in offered_runs(stranger) and "quick" in offered_runs(stranger)
    stranger.close()
    with pytest.raises(AppError, match="Choose a run to rate from the list"):
        client.predict(run=run, seed=0, rater="eve", api_name="/study_start")
