"""The Space as the Hub expects it: the README's front matter names the hardware, lists every Hub
model the playground offers, preloads the defaults' files at build time; the token comes from the
Space's secrets; the README says how to deploy it."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import gradio
import pytest
import yaml

from playground.catalog.scorers import load_scorers
from playground.config import DEFAULT_JUDGE, get_settings
from playground.models import registry
from playground.models.download import token_from_secrets

README = Path(__file__).resolve().parent.parent / "README.md"


def front_matter() -> dict:
    text = README.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def preloads() -> dict[str, list[str]]:
    """Each preloaded repo and its file patterns (["*"]: the whole repo)."""
    found = {}
    for entry in front_matter()["preload_from_hub"]:
        repo, _, files = entry.partition(" ")
        found[repo] = files.split(",") if files else ["*"]
    return found


def hub_repo(scorer_id: str) -> str:
    """The Hub repo a scorer id reads ("ARCH/tag" through open_clip's table of pretrained weights)."""
    import open_clip

    arch, _, tag = scorer_id.partition("/")
    table = {} if scorer_id.startswith("hf-hub:") else open_clip.get_pretrained_cfg(arch, tag)
    return (table.get("hf_hub") or scorer_id.removeprefix("hf-hub:")).strip("/")


@pytest.fixture
def online_defaults(monkeypatch):
    for name in ("PLAYGROUND_OFFLINE", "PLAYGROUND_MODEL", "PLAYGROUND_SCORER", "PLAYGROUND_MEDICAL_SCORER",
                 "PLAYGROUND_JUDGE"):
        monkeypatch.delenv(name, raising=False)
    return get_settings()


def test_the_front_matter_names_the_sdk_the_hardware_and_the_tags():
    card = front_matter()
    assert (card["sdk"], str(card["sdk_version"]), card["app_file"]) == ("gradio", gradio.__version__, "app.py")
    assert card["suggested_hardware"] == "zero-a10g"
    assert {"medical", "text-to-image", "diffusers", "mcp-server"} <= set(card["tags"])


def test_every_hub_model_offered_is_listed(online_defaults):
    listed = set(front_matter()["models"])
    models = registry.load_models()
    decoders = {c.tiny_decoder for c in models.cards.values() if c.tiny_decoder and not c.offline}
    scorers = {hub_repo(c.id) for c in load_scorers().cards.values() if not c.offline}
    defaults = {hub_repo(online_defaults.scorer), hub_repo(online_defaults.medical_scorer), DEFAULT_JUDGE}
    assert set(models.hub_models()) | decoders | scorers | defaults <= listed


def test_the_defaults_are_preloaded_with_the_files_they_load(online_defaults):
    found = preloads()
    model = online_defaults.model
    assert model == "stabilityai/sd-turbo" and model in found
    variant = registry.card(model).variant
    patterns = found[model]
    for needed in ("model_index.json", "unet/config.json", f"unet/diffusion_pytorch_model.{variant}.safetensors",
                   f"vae/diffusion_pytorch_model.{variant}.safetensors", f"text_encoder/model.{variant}.safetensors",
                   "tokenizer/vocab.json", "scheduler/scheduler_config.json"):
        assert any(fnmatch.fnmatch(needed, p) for p in patterns), needed
    assert not any(fnmatch.fnmatch("unet/diffusion_pytorch_model.safetensors", p) for p in patterns)  # one set of weights
    for repo in (registry.tiny_decoder(model), hub_repo(online_defaults.scorer), hub_repo(online_defaults.medical_scorer),
                 DEFAULT_JUDGE):
        assert repo in found, repo
    assert any(fnmatch.fnmatch("open_clip_model.safetensors", p) for p in found[hub_repo(online_defaults.scorer)])
    assert any(fnmatch.fnmatch("model.safetensors", p) for p in found[DEFAULT_JUDGE])


def test_the_token_comes_from_the_spaces_secrets(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    assert "No Hub token" in token_from_secrets() and "stabilityai/stable-diffusion-3.5-medium" in token_from_secrets()
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_secret")  # the older secret name
    assert "A Hub token is set" in token_from_secrets()
    import os

    assert os.environ["HF_TOKEN"] == "hf_secret"
    assert "token_from_secrets()" in (README.parent / "app.py").read_text(encoding="utf-8")


def test_the_readme_says_how_to_deploy():
    text = README.read_text(encoding="utf-8")
    deploy = text.split("## Deploy on a Space", 1)[1].split("\n## ", 1)[0]
    for words in ("Duplicate this Space", "zero-a10g", "HF_TOKEN", "PLAYGROUND_MODEL", "preload_from_hub",
                  "PLAYGROUND_ZEROGPU_MAX_SECONDS"):
        assert words in deploy, words
