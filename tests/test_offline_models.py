"""The tiny offline models: fast, deterministic, and loaded by the same code as Hub models."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from playground import TINY_PIPELINE_ID, TINY_SCORER_ID, load_pipeline
from playground.config import get_settings
from playground.models.loading import resolve_pipeline_source
from playground.models.offline import ensure_built

ROOT = Path(__file__).resolve().parent.parent


def test_builds_deterministically(tmp_path):
    first = ensure_built(TINY_PIPELINE_ID, tmp_path / "a")
    assert (ensure_built(TINY_SCORER_ID, tmp_path / "a") / "open_clip_config.json").is_file()
    second = ensure_built(TINY_PIPELINE_ID, tmp_path / "b")
    weights_a = load_file(first / "unet" / "diffusion_pytorch_model.safetensors")
    weights_b = load_file(second / "unet" / "diffusion_pytorch_model.safetensors")
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_second_call_reuses_the_built_folder(tmp_path):
    folder = ensure_built(TINY_PIPELINE_ID, tmp_path)
    stamp = folder.stat().st_mtime_ns
    assert ensure_built(TINY_PIPELINE_ID, tmp_path) == folder
    assert folder.stat().st_mtime_ns == stamp


def test_pipeline_is_cached_between_requests():
    assert load_pipeline(TINY_PIPELINE_ID) is load_pipeline(TINY_PIPELINE_ID)


def test_tokenizer_vocabulary_matches_open_clip():
    import open_clip

    pipe = load_pipeline(TINY_PIPELINE_ID)
    text = "A histopathological image of Graves' disease"
    ours = pipe.tokenizer(text).input_ids
    theirs = open_clip.get_tokenizer("ViT-B-32")([text])[0]
    assert ours == theirs[: len(ours)].tolist()


def test_a_saved_folder_loads_like_the_offline_id(tmp_path):
    folder = Path(resolve_pipeline_source(TINY_PIPELINE_ID))
    assert folder.parent == get_settings().models_dir
    copy = shutil.copytree(folder, tmp_path / "my-model")
    pipe = load_pipeline(str(copy))
    assert pipe is not load_pipeline(TINY_PIPELINE_ID)
    assert type(pipe).__name__ == "StableDiffusionPipeline"


def test_a_hub_id_loads_from_the_hub_cache_through_the_hub_code_path(tmp_path):
    """With HF_HUB_OFFLINE=1, a Hub id resolves through huggingface_hub's cache layout."""
    source = Path(resolve_pipeline_source(TINY_PIPELINE_ID))
    repo = tmp_path / "hub" / "models--playground-tests--tiny-sd"
    commit = "0" * 40
    shutil.copytree(source, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    script = (
        "from playground import load_pipeline\n"
        "pipe = load_pipeline('playground-tests/tiny-sd')\n"
        "print(type(pipe).__name__, pipe.unet.config.sample_size)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["StableDiffusionPipeline", "32"]


def test_clear_caches_forgets_every_loaded_model():
    from playground import clear_caches, load_pipeline, load_scorer
    from playground.config import TINY_VLM_ID
    from playground.models.vlm import load_vlm
    from playground.models.xray import load_classifier

    def loaded():
        return (load_pipeline(TINY_PIPELINE_ID), load_scorer(TINY_SCORER_ID), load_vlm(TINY_VLM_ID),
                load_classifier(offline=True)[1])

    first = loaded()
    assert all(a is b for a, b in zip(first, loaded()))  # cached
    clear_caches()
    assert all(a is not b for a, b in zip(first, loaded()))  # every kind loaded again


def test_a_clip_whose_weights_do_not_load_is_refused_not_used_with_random_weights(tmp_path):
    import pytest

    from playground import load_scorer
    from playground.errors import PlaygroundError

    built = ensure_built(TINY_SCORER_ID, get_settings().models_dir)
    shutil.copy(built / "open_clip_config.json", tmp_path / "open_clip_config.json")  # a config, no weights
    with pytest.raises(PlaygroundError, match="weights did not load, so it would score with random weights"):
        load_scorer(f"local-dir:{tmp_path}")
    shutil.copy(built / "open_clip_model.safetensors", tmp_path / "open_clip_model.safetensors")
    assert load_scorer(f"local-dir:{tmp_path}").scores  # with its weights it loads
