"""Without the Hub: loading fails fast with a useful message, and the app falls back visibly."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from playground import HubUnreachableError, load_pipeline, load_scorer
from playground.models.runtime import detect_runtime

from .conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def unreachable_hub(monkeypatch, closed_port_endpoint):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("PLAYGROUND_OFFLINE", raising=False)
    monkeypatch.delenv("PLAYGROUND_MODEL", raising=False)  # the default: a Hub model


def test_hub_model_fails_fast_with_offline_advice(unreachable_hub):
    began = time.perf_counter()
    with pytest.raises(HubUnreachableError) as error:
        load_pipeline("stabilityai/sd-turbo")
    assert time.perf_counter() - began < 15
    message = str(error.value)
    assert "could not be reached" in message and "stabilityai/sd-turbo" in message
    assert "PLAYGROUND_OFFLINE=1" in message


def test_hub_scorer_fails_fast_too(unreachable_hub):
    with pytest.raises(HubUnreachableError, match="ViT-B-32/laion2b_s34b_b79k"):
        load_scorer("ViT-B-32/laion2b_s34b_b79k")


def test_a_hanging_hub_is_given_up_after_the_timeout(monkeypatch, silent_endpoint):
    monkeypatch.setenv("HF_ENDPOINT", silent_endpoint)
    monkeypatch.setenv("PLAYGROUND_HUB_TIMEOUT", "1")
    began = time.perf_counter()
    with pytest.raises(HubUnreachableError, match="did not answer within 1 s"):
        load_pipeline("runwayml/stable-diffusion-v1-5")
    assert time.perf_counter() - began < 5


def test_runtime_falls_back_to_tiny_models_with_a_banner(unreachable_hub):
    runtime = detect_runtime()
    assert runtime.models[0] == "tiny-offline" and runtime.scorers == ("tiny-offline-clip",)
    assert all(m.startswith("tiny-offline") for m in runtime.models)
    assert "could not be reached: the connection was refused" in runtime.banner and "random-weight" in runtime.banner
    assert "Error" not in runtime.banner  # said in words, not as an exception


def test_offline_flag_skips_the_hub(monkeypatch, silent_endpoint):
    monkeypatch.setenv("HF_ENDPOINT", silent_endpoint)
    monkeypatch.setenv("PLAYGROUND_OFFLINE", "1")
    began = time.perf_counter()
    assert detect_runtime().offline
    assert time.perf_counter() - began < 0.5


def test_app_starts_offline_within_60_seconds_and_shows_the_banner(tmp_path, closed_port_endpoint):
    port = free_port()
    env = {
        **os.environ, "HF_ENDPOINT": closed_port_endpoint, "GRADIO_SERVER_PORT": str(port),
        "PLAYGROUND_HOME": str(tmp_path), "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
    }
    env.pop("PLAYGROUND_OFFLINE", None)
    env.pop("PLAYGROUND_MODEL", None)
    began = time.monotonic()
    app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        config = None
        while time.monotonic() - began < 60 and app.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2) as response:
                    config = response.read().decode()
                break
            except OSError:
                time.sleep(0.25)  # polling a starting server, bounded by the 60 s deadline
        assert config is not None, app.stdout.read().decode()[-3000:] if app.poll() is not None else "no answer in 60 s"
        assert time.monotonic() - began < 60
        assert "Offline demo mode" in config and "random-weight test models" in config
        assert '"tiny-offline"' in config
    finally:
        app.terminate()
        app.wait(timeout=30)
