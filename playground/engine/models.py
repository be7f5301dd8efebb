"""Load text-to-image pipelines and CLIP scorers once, from the Hub, a folder, or offline.

One factory per model family (`load_pipeline`, `load_scorer`), each with a small cache, so a
second request reuses what the first loaded. The tiny offline models are registered ids like any
other: they are built into a folder once and then loaded by the same `from_pretrained` /
`create_model_and_transforms` calls that load a Hub model.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

import torch

from ..config import get_settings
from ..errors import HubUnreachableError, PlaygroundError
from .clip_model import ClipScorer
from .offline_models import TINY_PIPELINE_ID, TINY_SCORER_ID, ensure_built, is_offline_model

T = TypeVar("T")

OFFLINE_HINT = (
    "To run without the Hub, start with PLAYGROUND_OFFLINE=1 (random-weight test models "
    f"'{TINY_PIPELINE_ID}' and '{TINY_SCORER_ID}'), or set HF_HUB_OFFLINE=1 to use models "
    "already in the local Hugging Face cache."
)


def pick_device(requested: str | None = None) -> tuple[torch.device, torch.dtype]:
    """Best available device and its dtype: cuda in fp16, else mps or cpu in fp32.

    fp32 off CUDA follows diffusers' "usability over performance": half precision on CPU is slow
    and on MPS the VAE may overflow.
    """
    name = requested or get_settings().device
    if name is None:
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    return torch.device(name), torch.float16 if name == "cuda" else torch.float32


def hub_problem(timeout_s: float | None = None) -> str | None:
    """None when the Hub answers within `timeout_s`, else a sentence saying what went wrong.

    The request runs in a worker thread so a hanging DNS lookup cannot block the caller longer
    than the timeout.
    """
    from huggingface_hub import constants, get_session

    timeout = get_settings().hub_timeout_s if timeout_s is None else timeout_s
    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(lambda: get_session().head(endpoint, timeout=timeout))
    pool.shutdown(wait=False)
    silent = f"the Hugging Face Hub ({endpoint}) did not answer within {timeout:g} s"
    try:
        future.result(timeout=timeout + 1)
    except FutureTimeout:
        return silent
    except Exception as exc:  # any transport error means the same thing to the user
        if "timeout" in type(exc).__name__.lower():
            return silent
        return f"the Hugging Face Hub ({endpoint}) could not be reached ({type(exc).__name__}: {exc})"
    return None


def _check_hub_for(kind: str, model_id: str) -> None:
    if get_settings().hub_offline:
        return  # from_pretrained reads the local cache only, and says so if the model is missing
    problem = hub_problem()
    if problem:
        raise HubUnreachableError(f"Could not load {kind} '{model_id}': {problem}. {OFFLINE_HINT}")


class _Cache:
    """A small least-recently-used cache whose loads happen under one lock (no double loads)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, load: Callable[[], T], max_items: int) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            value = load()
            self._items[key] = value
            while len(self._items) > max(1, max_items):
                self._items.popitem(last=False)
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_pipelines = _Cache()
_scorers = _Cache()


def resolve_pipeline_source(model_id: str) -> str:
    """Where `from_pretrained` reads a model: an offline model's built folder, a local folder,
    or the Hub id itself (after checking that the Hub answers)."""
    if not model_id or not model_id.strip():
        raise PlaygroundError("The model id is empty; give a Hub id, a local folder or 'tiny-offline'.")
    if is_offline_model(model_id):
        return str(ensure_built(model_id, get_settings().models_dir))
    if Path(model_id).is_dir():
        return model_id
    _check_hub_for("model", model_id)
    return model_id


def load_pipeline(model_id: str, device: str | None = None):
    """A diffusers text-to-image pipeline for `model_id`, loaded once and cached.

    Args:
        model_id: a Hub id (``stabilityai/sd-turbo``), a folder saved with ``save_pretrained``,
            or an offline id (``tiny-offline``).
        device: ``cpu``, ``cuda`` or ``mps``; default: PLAYGROUND_DEVICE or the best available.

    A model that ships a safety checker keeps it unless PLAYGROUND_SAFETY_CHECKER=off (medical
    images trip it often); flagged images come back black and are labelled, not scored.

    Raises:
        HubUnreachableError: the Hub did not answer within PLAYGROUND_HUB_TIMEOUT seconds.
    """
    torch_device, dtype = pick_device(device)
    safety_checker = get_settings().safety_checker

    def load():
        from diffusers import AutoPipelineForText2Image

        source = resolve_pipeline_source(model_id)
        options = {} if safety_checker else {"safety_checker": None, "requires_safety_checker": False}
        pipe = AutoPipelineForText2Image.from_pretrained(source, dtype=dtype, **options)
        pipe.to(torch_device)
        pipe.set_progress_bar_config(disable=True)
        for module in pipe.components.values():
            if isinstance(module, torch.nn.Module):
                module.requires_grad_(False)  # inference only; CLIP guidance differentiates latents alone
        return pipe

    return _pipelines.get((model_id, str(torch_device), dtype, safety_checker), load, get_settings().max_loaded_models)


def _open_clip_args(scorer_id: str) -> tuple[str, str | None]:
    """(model_name, pretrained) for open_clip from our scorer id.

    Scorer ids: ``ARCH/TAG`` (``ViT-B-32/laion2b_s34b_b79k``), ``hf-hub:org/repo``,
    ``local-dir:/path``, or an offline id (``tiny-offline-clip``).
    """
    if is_offline_model(scorer_id):
        return f"local-dir:{ensure_built(scorer_id, get_settings().models_dir)}", None
    if scorer_id.startswith("local-dir:"):
        return scorer_id, None
    if scorer_id.startswith("hf-hub:"):
        _check_hub_for("scorer", scorer_id)
        return scorer_id, None
    arch, sep, tag = scorer_id.partition("/")
    if not sep or not arch or not tag:
        raise PlaygroundError(
            f"Scorer id {scorer_id!r} is not of the form 'ARCH/TAG' (e.g. 'ViT-B-32/laion2b_s34b_b79k'), "
            f"'hf-hub:org/repo', 'local-dir:/path' or '{TINY_SCORER_ID}'."
        )
    if not Path(tag).is_file():
        _check_hub_for("scorer", scorer_id)
    return arch, tag


def load_scorer(scorer_id: str, device: str | None = None) -> ClipScorer:
    """An open_clip model wrapped as a `ClipScorer`, loaded once and cached (see `_open_clip_args`)."""
    torch_device, _ = pick_device(device)

    def load() -> ClipScorer:
        import open_clip

        model_name, pretrained = _open_clip_args(scorer_id)
        precision = "fp16" if torch_device.type == "cuda" else "fp32"
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=pretrained, precision=precision, device=torch_device
        )
        model.eval().requires_grad_(False)
        tokenizer = open_clip.get_tokenizer(model_name)
        return ClipScorer(scorer_id, model, preprocess, tokenizer, torch_device, open_clip.get_input_dtype(precision))

    return _scorers.get((scorer_id, str(torch_device)), load, max_items=4)


def clear_caches() -> None:
    """Forget every loaded model (frees memory; the next request loads again)."""
    _pipelines.clear()
    _scorers.clear()
