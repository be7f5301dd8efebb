"""A link that reopens a grid: the whole Compare form in the URL's query, read back through the
form's own checks; in the browser, the copied link opens the same form and, after a restart, the
same grid from the image cache."""

from __future__ import annotations

import re
from dataclasses import fields, replace

import pytest

from playground.errors import PlaygroundError
from playground.models.runtime import offline_runtime
from playground.types import GuidanceSetting
from playground.workflow import form_link
from playground.workflow.form import CompareForm

from .conftest import free_port

SMALL = CompareForm(subject="melanoma", columns=(("photo-short", ""), ("free", "Melanoma, dermoscopy & a ruler, 5 mm")),
                    settings=(GuidanceSetting(4.0, 2, "Euler", "blurry, text", 0.0),), models=("tiny-offline",),
                    images_per_cell=1, seed=3, judge="none", medical_scorer="none")


def test_a_form_survives_its_link_every_field_of_it():
    every = replace(SMALL, width=96, height=64, prompt_sr="photo, photograph", subgroups=True, scorer="tiny-offline-clip",
                    domain_scorer="none", decoder="fast", guidance_decoder="fast", models=("tiny-offline", "tiny-offline-sdxl"))
    reopened = form_link.form_of(form_link.query(every))
    for field in fields(CompareForm):
        if field.name not in ("columns", "filled_for", "label"):
            assert getattr(reopened, field.name) == getattr(every, field.name), field.name
    assert reopened.columns[:2] == SMALL.columns and reopened.filled_for == "melanoma"
    assert form_link.form_of(form_link.query(CompareForm(subject="melanoma"))).settings is None  # each model's preset


@pytest.mark.parametrize("query, words", [
    ("?subject=a&subject=b", "'subject' 2 times"),
    ("?subject=a&settings=[1", "not a list of rows"),
    ("?subject=a&seed=one", "Seed must be a whole number"),
    ("?subject=a&subgroups=maybe", "it is true or false"),
    ("?subject=" + "x" * 40_000, "the limit is"),
])
def test_a_bad_link_is_refused_in_a_sentence(query, words):
    with pytest.raises(PlaygroundError, match=re.escape(words)):
        form_link.form_of(query)


def test_what_a_link_names_is_checked_like_any_form():
    from playground.catalog.templates import load_templates

    form = form_link.form_of("?subject=melanoma&template_1=photo-short&model=someone/else")
    with pytest.raises(PlaygroundError, match="not offered here"):
        form.resolve(load_templates(), offline_runtime("test"))


@pytest.fixture
def launch(monkeypatch):
    """Launches the app (image cache on, GPU work in this process); every app is closed after the test."""
    from playground.ui import build_demo, launch_kwargs, queued

    monkeypatch.setenv("PLAYGROUND_IMAGE_CACHE_MB", "64")
    monkeypatch.setenv("PLAYGROUND_ZEROGPU", "off")
    apps = []

    def start() -> tuple[object, str]:
        demo = queued(build_demo(offline_runtime("tests run without the Hub")))
        _, url, _ = demo.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True, **launch_kwargs())
        apps.append(demo)
        return demo, url

    yield start
    for demo in apps:
        demo.close()


def test_a_copied_link_reopens_the_form_and_after_a_restart_its_grid_from_the_cache(browser, launch):
    from playwright.sync_api import expect

    first, url = launch()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url + form_link.query(SMALL))  # a link whose grid was never drawn: the form, and an offer
    expect(page.locator("#link-status")).to_contain_text("0 of its 2 images")
    expect(page.locator("#cost")).to_contain_text("2 images")
    page.locator("#generate").click()
    expect(page.locator("#grid figure")).to_have_count(2)
    page.locator("#copy-link").click()
    link = page.locator("#share-link input, #share-link textarea").first
    expect(link).to_have_value(re.compile(r"^http://.*\?subject=melanoma&"))
    copied = link.input_value()
    page.close()
    first.close()  # a restart: the new server knows nothing of the grid but what the link and the cache hold

    _, second = launch()
    other = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    other.goto(second + copied[copied.index("?"):])
    expect(other.locator("#link-status")).to_contain_text("all 2 images of its grid came from the image cache")
    assert other.locator("#subject input, #subject textarea").first.input_value() == "melanoma"
    expect(other.locator("#grid figure")).to_have_count(2)
    expect(other.locator("#grid")).to_contain_text("seed 3")
    other.screenshot(path="test-artifacts/link_reopened_phone.png", full_page=True)
    other.context.close()
