"""Hardening, round three, in a real Chromium: a dropped PNG's text is shown as text by Gradio's own
Markdown (marked, with GitHub's autolinks) and by its error toasts, and nothing it holds makes the
browser request another host."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from .conftest import free_port
from .test_browser import open_advanced
from .test_hardening_three import png_with


@pytest.fixture
def beacon() -> Iterator[tuple[str, list[str]]]:
    """A server on this machine that records every request: what a live link or image would hit."""
    hits: list[str] = []

    class Record(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server calls it by this name
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Record)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    thread.join()


def no_markup(box, *shown: str) -> None:
    """`box` holds no link or image, and shows each of `shown` as typed."""
    expect(box.locator("a")).to_have_count(0)
    expect(box.locator("img")).to_have_count(0)
    for value in shown:
        expect(box).to_contain_text(value)


def test_a_hostile_png_is_shown_as_text_in_the_status_legend_details_and_errors(page, app_url, tmp_path, beacon):
    host, hits = beacon
    image, link = f"![beacon]({host}/image)", f"[Session expired: sign in]({host}/link)"
    model = "[sign in](http://h.example)"
    parameters = (f"{image} melanoma {link} www.h.example {host}/bare\nNegative prompt: ~~gone~~ me@h.example\n"
                  f"Steps: 2, Sampler: default, CFG scale: 4, Seed: 3, Size: 64x64, Model: {json.dumps(model)}")
    page.goto(app_url)
    open_advanced(page)
    toast = f"<img src={host}/t>"
    bad_seed = png_with(tmp_path / "seed.png", f"a photo\nSteps: 2, Sampler: default, Seed: {json.dumps(toast)}")
    page.locator("#restore-png input[type=file]").set_input_files(bad_seed)
    error = page.locator(".toast-body").filter(has_text="The PNG's Seed must be a number")
    expect(error).to_contain_text(toast, timeout=30_000)
    expect(error.locator("img")).to_have_count(0)

    page.goto(app_url)
    open_advanced(page)
    page.locator("#restore-png input[type=file]").set_input_files(png_with(tmp_path / "hostile.png", parameters))
    status = page.locator("#restore-status")
    status.get_by_text("Restored from").wait_for(timeout=30_000)
    no_markup(status, f"made with '{model}', not offered here")

    page.locator("#generate").click()
    legend = page.locator("#legend")
    legend.get_by_text("Session expired").wait_for(timeout=120_000)
    no_markup(legend, image, link, "www.h.example", f"{host}/bare", "~~gone~~ me@h.example")
    grid = page.locator("#grid")
    grid.locator("figcaption").first.wait_for(timeout=120_000)
    grid.locator("td summary").first.click()  # enlarge and select the first image
    grid.locator(".pg-zoom[open] > summary").click(position={"x": 5, "y": 5})
    details = page.locator("#selected-details")
    expect(details).to_contain_text("Image 1 ·", timeout=30_000)
    no_markup(details, image, link, "~~gone~~ me@h.example")

    assert hits == []
