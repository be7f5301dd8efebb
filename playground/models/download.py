"""A model's first use downloads gigabytes: fetch a diffusers repo with visible byte progress.

`DiffusionPipeline.from_pretrained` downloads silently from a UI's point of view. Here the files a
pipeline needs (model_index.json and, per component folder, its configs and one set of weights)
are fetched with huggingface_hub's `snapshot_download`, whose byte progress bar is reported to a
callback, so the Compare tab can say "Downloading stabilityai/sd-turbo: 1.2 of 5.1 GB".
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

from tqdm.auto import tqdm

DownloadFn = Callable[[int, int], None]  # (bytes so far, bytes in all)
WEIGHTS = (".safetensors", ".bin")  # preferred first, as diffusers prefers safetensors
OTHER_FORMATS = (".ckpt", ".pt", ".pth", ".msgpack", ".h5", ".onnx", ".onnx_data", ".pb", ".gguf")


def is_cached(model_id: str, variant: str | None = None) -> bool:
    """True when every file the pipeline needs is already in the local Hugging Face cache."""
    from diffusers import DiffusionPipeline

    try:
        DiffusionPipeline.download(model_id, local_files_only=True, variant=variant)
    except Exception:  # diffusers raises several types for "not (all) in the cache"
        return False
    return True


def files_to_fetch(repo_files: Iterable[str], components: Iterable[str], variant: str | None = None) -> list[str]:
    """The files `from_pretrained` reads: model_index.json, and in each component folder every
    non-weight file plus one format of weights (safetensors when there are any): the `variant`'s
    (``.fp16.``) where the folder has them and a variant is asked for, as `from_pretrained(...,
    variant=)` reads them, else the default ones (not ``.fp16.`` or ``non_ema``)."""
    wanted = ["model_index.json"]
    by_folder: dict[str, list[str]] = {}
    for name in repo_files:
        path = PurePosixPath(name)
        if len(path.parts) == 2 and path.parts[0] in set(components):
            by_folder.setdefault(path.parts[0], []).append(name)
    for names in by_folder.values():
        weights = [n for n in names if n.endswith(WEIGHTS) and _is_variant(n, variant)]
        if not weights:  # no files of that variant here: from_pretrained reads the default ones
            weights = [n for n in names if n.endswith(WEIGHTS) and _is_default_weight(n)]
        for extension in WEIGHTS:
            chosen = [n for n in weights if n.endswith(extension)]
            if chosen:
                wanted += chosen
                break
        wanted += [n for n in names if not n.endswith(WEIGHTS + OTHER_FORMATS)]
    return sorted(set(wanted))


def _is_default_weight(name: str) -> bool:
    """`model.safetensors` or a shard `model-00001-of-00002.safetensors`, not `model.fp16.safetensors`."""
    return len(PurePosixPath(name).name.split(".")) == 2


def _is_variant(name: str, variant: str | None) -> bool:
    """`model.fp16.safetensors` or a shard `model.fp16-00001-of-00002.safetensors`, for variant "fp16"."""
    file = PurePosixPath(name).name
    return variant is not None and (f".{variant}." in file or f".{variant}-" in file)


def byte_reporter(report: DownloadFn) -> type[tqdm]:
    """A tqdm class whose byte bars call `report(done, total)` (snapshot_download's `tqdm_class`)."""

    class Reporter(tqdm):
        def __init__(self, *args, **kwargs) -> None:
            kwargs["disable"] = False
            kwargs.setdefault("file", _Discard())
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            if self.unit == "B" and self.total:
                report(int(self.n), int(self.total))
            return shown

    return Reporter


class _Discard:
    """A file tqdm writes its text bar to, discarded: the callback is the display."""

    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def fetch(model_id: str, report: DownloadFn, variant: str | None = None) -> str:
    """Download what a pipeline needs from `model_id` into the Hugging Face cache, reporting
    bytes; return the local snapshot folder `from_pretrained` can load."""
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    with open(hf_hub_download(model_id, "model_index.json"), encoding="utf-8") as f:
        components = [k for k, v in json.load(f).items() if not k.startswith("_") and isinstance(v, list)]
    files = files_to_fetch(HfApi().list_repo_files(model_id), components, variant)
    return snapshot_download(model_id, allow_patterns=files, tqdm_class=byte_reporter(report))


TOKEN_NAMES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")  # huggingface_hub's name, and its older one


def token_from_secrets() -> str:
    """Take the Hub token from a Space's secrets (they arrive as environment variables; the older
    name is copied to HF_TOKEN, which huggingface_hub reads for every download) and say, for the
    log, what it opens: the gated models need a token of an account that accepted their licence."""
    from . import registry

    token = next((os.environ[name].strip() for name in TOKEN_NAMES if os.environ.get(name, "").strip()), "")
    gated = ", ".join(c.id for c in registry.load_models().cards.values() if c.gated) or "none"
    if not token:
        return (f"No Hub token (a Space secret named HF_TOKEN): the gated models ({gated}) are refused with a "
                "sentence; every other model loads.")
    os.environ["HF_TOKEN"] = token
    return f"A Hub token is set (HF_TOKEN): the gated models ({gated}) load if its account accepted their licence."
