"""Tiny random-weight models, built locally so the playground runs and is tested without the Hub.

They use the real classes (diffusers pipelines of every family and the AutoencoderTiny that
decodes their drafts, transformers CLIP and T5 text encoders, an open_clip CLIP) with shapes from
`offline_configs/*.json`; a pipeline's config names its family, whose module builds it.
Each is built once, deterministically from the config's seed, into
`PLAYGROUND_HOME/models/<id>-<config hash>/` in the layout a Hub repo has, and is then loaded
from that folder by the very code that loads Hub models (`models.load_pipeline`,
`models.load_scorer`). Their images are noise: they exercise the machinery, not medicine.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import PlaygroundError
from . import families, hf_clip, tiny_vlm

CONFIG_DIR = Path(__file__).resolve().parent / "offline_configs"
REAL_SIZE_PIPELINE_ID = "sd1-size-offline"  # Stable Diffusion 1.x shapes, random weights (benchmarks)
REAL_SIZE_SCORER_ID = "vit-b-32-size-offline-clip"  # ViT-B-32 shapes, random weights (benchmarks)

_build_lock = threading.Lock()


def _read_config(model_id: str) -> tuple[dict, str]:
    text = (CONFIG_DIR / f"{model_id}.json").read_text(encoding="utf-8")
    return json.loads(text), hashlib.sha256(text.encode()).hexdigest()[:10]


@torch.no_grad()
def _share_direction(model: torch.nn.Module, norm: float) -> None:
    """Add one random direction of length `norm` to every text and image embedding.

    The final LayerNorms' biases are set so that, after each projection, they contribute the same
    vector; random-weight cosines then look like a trained CLIP's instead of straddling 0.
    """
    direction = torch.randn(model.text_projection.shape[1])
    direction *= norm / direction.norm()
    model.ln_final.bias.copy_(direction @ torch.linalg.pinv(model.text_projection))
    model.visual.ln_post.bias.copy_(direction @ torch.linalg.pinv(model.visual.proj))


def _build_clip(config: dict, folder: Path) -> None:
    import open_clip
    from safetensors.torch import save_file

    model = open_clip.CLIP(**config["model_cfg"])
    _share_direction(model, config["shared_direction_norm"])
    save_file(model.state_dict(), folder / "open_clip_model.safetensors")
    hf_config = {"model_cfg": config["model_cfg"], "preprocess_cfg": config["preprocess_cfg"]}
    (folder / "open_clip_config.json").write_text(json.dumps(hf_config, indent=2), encoding="utf-8")


@functools.cache
def offline_ids() -> tuple[str, ...]:
    """Every offline model: one config file each in offline_configs/ (package data, read once)."""
    return tuple(sorted(path.stem for path in CONFIG_DIR.glob("*.json")))


@torch.no_grad()
def _build_tiny_decoder(config: dict, folder: Path) -> None:
    """An AutoencoderTiny whose last convolution's bias puts its images around mid-grey, as a
    trained TAESD's are (in [0, 1] before diffusers maps them to [-1, 1]); left at 0, a random one
    draws near-black images that CLIP cannot read."""
    from diffusers import AutoencoderTiny

    model = AutoencoderTiny(**config["autoencoder"])
    model.decoder.layers[-1].bias.fill_(config["output_bias"])
    model.save_pretrained(folder)


def _builder(config: dict) -> Callable[[dict, Path], None]:
    """A pipeline's config names its family, which knows how to build it; a scorer's its loader;
    the vision-language judge's and the tiny decoder's their kind."""
    if "family" in config:
        return families.get(config["family"]).build_tiny
    if config.get("kind") == "vlm":
        return tiny_vlm.build
    if config.get("kind") == "tiny_decoder":
        return _build_tiny_decoder
    return hf_clip.build_tiny if config.get("loader") in hf_clip.LOADERS else _build_clip


def loader_of(model_id: str) -> str:
    """How an offline scorer loads: "open_clip", or a transformers loader (see hf_clip.LOADERS)."""
    return _read_config(model_id)[0].get("loader", "open_clip")


def is_offline_model(model_id: str) -> bool:
    return model_id in offline_ids()


def ensure_built(model_id: str, models_dir: Path) -> Path:
    """Return the folder of an offline model, building it first if this config never was.

    The folder name carries a hash of the config, so editing a config builds a fresh model. The
    build goes to a temporary folder renamed into place, so a crash never leaves half a model.
    """
    if not is_offline_model(model_id):
        raise PlaygroundError(f"Unknown offline model {model_id!r}; offline models: {', '.join(offline_ids())}.")
    config, digest = _read_config(model_id)
    folder = models_dir / f"{model_id}-{digest}"
    with _build_lock:
        if folder.is_dir():
            return folder
        models_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{model_id}-", dir=models_dir))
        try:
            with torch.random.fork_rng():
                torch.manual_seed(config["seed"])
                _builder(config)(config, tmp)
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if not folder.is_dir():
                raise
    return folder
