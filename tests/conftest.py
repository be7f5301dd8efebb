"""Shared fixtures: an isolated PLAYGROUND_HOME per test session, a launched app, a browser."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def playground_home(tmp_path_factory) -> Iterator[Path]:
    """Point every path the playground writes (models, outputs, library, Gradio cache) at tmp."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        mp.setenv("PLAYGROUND_LIBRARY", str(home / "library.sqlite"))
        mp.setenv("GRADIO_TEMP_DIR", str(home / "gradio"))
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        mp.setenv("PLAYGROUND_ZEROGPU", "standin")  # the app's GPU work crosses a fork and pickling, as on ZeroGPU
        mp.setenv("PLAYGROUND_OFFLINE", "1")  # no Hub: every default is a tiny stand-in (tests that need the Hub path unset it)
        mp.setenv("PLAYGROUND_IMAGE_CACHE_MB", "0")  # tests that count denoising draw every image; cache tests turn it on
        mp.delenv("PLAYGROUND_DATA", raising=False)
        yield home


@pytest.fixture
def fresh_library(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "library.sqlite"
    monkeypatch.setenv("PLAYGROUND_LIBRARY", str(path))
    return path


@pytest.fixture(scope="session")
def closed_port_endpoint() -> str:
    """A Hub endpoint on this machine where nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A Hub endpoint that accepts connections and never answers (a hanging network)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.fixture(scope="session")
def app_url(playground_home) -> Iterator[str]:
    """The playground launched in this process on the tiny models (offline banner on)."""
    from playground.models.runtime import offline_runtime
    from playground.ui import build_demo, launch_kwargs, queued

    demo = queued(build_demo(offline_runtime("tests run without the Hub")))
    _, url, _ = demo.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True, **launch_kwargs())
    yield url
    demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright; required (not skipped) when CI=true."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing; .ci/run installs it with apt-get.")
        pytest.skip("Chromium is not installed (apt-get install chromium).")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # a cold app's first answers (imports, model builds) can take seconds
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=path,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh page; its screenshot is saved under test-artifacts/ after the test."""
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    page.close()
