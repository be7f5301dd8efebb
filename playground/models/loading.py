"""Load text-to-image pipelines and CLIP scorers once, from the Hub, a folder, or offline.

One factory per model family (`load_pipeline`, `load_scorer`), each with a small cache, so a
second request reuses what the first loaded. The tiny offline models are registered ids like any
other: they are built into a folder once and then loaded by the same `from_pretrained` /
`create_model_and_transforms` calls that load a Hub model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..catalog import scorers as scorer_registry
from ..config import TINY_PIPELINE_ID, TINY_SCORER_ID, get_settings
from ..errors import HubUnreachableError, PlaygroundError
from . import download, families, hf_clip
from . import registry as model_registry
from .cache import Cache, clear_all
from .clip_model import ClipScorer
from .download import DownloadFn
from .offline import ensure_built, is_offline_model, loader_of

OFFLINE_HINT = (
    "To run without the Hub, start with PLAYGROUND_OFFLINE=1 (random-weight test models "
    f"'{TINY_PIPELINE_ID}' and '{TINY_SCORER_ID}'), or set HF_HUB_OFFLINE=1 to use models "
    "already in the local Hugging Face cache."
)


def pick_device(requested: str | None = None) -> tuple[torch.device, torch.dtype]:
    """Best available device and its default dtype: cuda in fp16 (a pipeline takes its family's,
    see `gpu_dtype`), else mps or cpu in fp32.

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
        logger.info("Hub check failed: %s: %s", type(exc).__name__, exc)
        return f"the Hugging Face Hub ({endpoint}) could not be reached: {_in_words(exc)}"
    return None


def _in_words(exc: Exception) -> str:
    """What a failed connection means, for a person (the exception itself goes to the log)."""
    said = f"{type(exc).__name__} {exc}".lower()
    if any(s in said for s in ("name or service not known", "nodename", "getaddrinfo", "name resolution")):
        return "its address could not be looked up (no network or no DNS on this machine)"
    if "refused" in said:
        return "the connection was refused"
    if "ssl" in said or "certificate" in said:
        return "a secure connection could not be made"
    return "no connection could be made"


def check_hub_for(kind: str, model_id: str) -> None:
    if get_settings().hub_offline:
        return  # from_pretrained reads the local cache only, and says so if the model is missing
    problem = hub_problem()
    if problem:
        raise HubUnreachableError(f"Could not load {kind} '{model_id}': {problem}. {OFFLINE_HINT}")


logger = logging.getLogger(__name__)
_pipelines = Cache()
_built: list[str] = []  # every pipeline this process has built, in order (see `pipelines_built`)


def pipelines_built() -> list[str]:
    """The model ids whose pipelines this process has loaded from disk or the Hub so far: a
    request served from the cache adds none (what a ZeroGPU worker reused shows here)."""
    return list(_built)
_scorers = Cache()


def source_of(model_id: str, kind: str) -> str:
    """Where `from_pretrained` reads a `kind` ("model", "scorer", "judge"): an offline model's
    built folder, a local folder, or the Hub id itself (after checking that the Hub answers)."""
    if is_offline_model(model_id):
        return str(ensure_built(model_id, get_settings().models_dir))
    if Path(model_id).is_dir():
        return model_id
    check_hub_for(kind, model_id)
    return model_id


def resolve_pipeline_source(model_id: str, on_download: DownloadFn | None = None, variant: str | None = None) -> str:
    """Where `from_pretrained` reads a pipeline (see `source_of`). A Hub model not yet in the
    local cache is downloaded first (the `variant`'s weights where it has them), its bytes
    reported to `on_download(done, total)`."""
    if not model_id or not model_id.strip():
        raise PlaygroundError("The model id is empty; give a Hub id, a local folder or 'tiny-offline'.")
    source = source_of(model_id, "model")
    from_hub = source == model_id and not Path(model_id).is_dir() and not get_settings().hub_offline
    if from_hub and on_download is not None and not download.is_cached(model_id, variant):
        return download.fetch(model_id, on_download, variant)
    return source


def gpu_variant(model_id: str) -> str | None:
    """The weights variant a model loads on a GPU: its registry entry's (fp16 where the repo ships
    fp16 files, half the bytes of the fp32 ones), else the default weights."""
    card = model_registry.card(model_id)
    return card.variant if card is not None else None


def cast_components(pipe, model_id: str) -> None:
    """Components whose registry dtype differs from the pipeline's (Sana: the DC-AE and Gemma-2 in
    bf16 beside an fp16 transformer, which the DC-AE cannot run in)."""
    card = model_registry.card(model_id)
    for name, dtype in (card.component_dtypes if card is not None else {}).items():
        getattr(pipe, name).to(getattr(torch, dtype))


def gpu_dtype(model_id: str, source: str) -> torch.dtype:
    """The dtype a model runs in on a GPU: its registry entry's, else its family's (bf16 for SD3
    and FLUX, whose activations overflow fp16), read from the pipeline class in model_index.json."""
    card = model_registry.card(model_id)
    if card is not None:
        return getattr(torch, card.dtype)
    from diffusers import DiffusionPipeline

    family = families.of_pipeline_class(DiffusionPipeline.load_config(source).get("_class_name", ""))
    return getattr(torch, family.gpu_dtype if family else "float16")


def _revision(model_id: str, source: str) -> str:
    """What identifies the loaded weights: the built or local folder's name (an offline model's
    carries its config digest; a Hub snapshot's is its commit), else the cached snapshot's commit."""
    if source != model_id or Path(source).is_dir():
        return f"{Path(source).name}@{Path(source).stat().st_mtime_ns}"
    try:
        from diffusers import DiffusionPipeline

        return Path(DiffusionPipeline.download(model_id, local_files_only=True)).name
    except Exception:  # not fully in the cache: no commit to name
        return "unknown"


def _weights_bytes(pipe) -> int:
    return sum(p.numel() * p.element_size() for m in pipe.components.values() if isinstance(m, torch.nn.Module)
               for p in m.parameters())


@dataclass
class Loaded:
    """A cached pipeline and what the playground knows of it: `revision` identifies its weights
    (part of every cached image's key); `offloaded`: it runs with model CPU offload."""

    model_id: str
    pipe: Any
    revision: str
    offloaded: bool = False


def _place(loaded: Loaded, device: torch.device) -> None:
    """Put a pipeline where it runs. On a GPU: whole when it fits in free memory (with a margin
    for activations), else with `enable_model_cpu_offload` (each component visits the GPU while
    it runs); the VAE decodes one image at a time (slicing), so a large grid fits."""
    pipe = loaded.pipe
    if device.type != "cuda":
        pipe.to(device)
        return
    free, _ = torch.cuda.mem_get_info(device)
    if _weights_bytes(pipe) * 1.3 < free:
        pipe.to(device)
    else:
        pipe.enable_model_cpu_offload(device=device)
        loaded.offloaded = True
    if getattr(pipe, "vae", None) is not None:
        pipe.vae.enable_slicing()


def _activate(loaded: Loaded, device: torch.device) -> None:
    """On a GPU, move every other cached pipeline to the CPU (models of one comparison load one
    after another; the idle one must not hold GPU memory), and this one back if it was moved."""
    if device.type != "cuda":
        return
    for other in _pipelines.values():
        if other is not loaded and not other.offloaded and other.pipe.device.type == "cuda":
            other.pipe.to("cpu")
    torch.cuda.empty_cache()
    if not loaded.offloaded and loaded.pipe.device.type != "cuda":
        _place(loaded, device)


@contextmanager
def hub_errors_as_sentences(model_id: str) -> Iterator[None]:
    """A gated or missing Hub repository, said in a sentence with what to do."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        yield
    except GatedRepoError:
        raise PlaygroundError(
            f"'{model_id}' is gated: accept its licence at https://huggingface.co/{model_id}, then set HF_TOKEN "
            "to a token of that account (on a Space: a secret named HF_TOKEN, then restart the Space)."
        ) from None
    except RepositoryNotFoundError:
        raise PlaygroundError(
            f"'{model_id}' is not on the Hugging Face Hub (removed, private, or misspelled); use a mirror or a local folder."
        ) from None


def load_pipeline(model_id: str, device: str | None = None, on_download: DownloadFn | None = None):
    """A diffusers text-to-image pipeline for `model_id`, loaded once and cached.

    Args:
        model_id: a Hub id (``stabilityai/sd-turbo``), a folder saved with ``save_pretrained``,
            or an offline id (``tiny-offline``).
        device: ``cpu``, ``cuda`` or ``mps``; default: PLAYGROUND_DEVICE or the best available.
        on_download: called as ``on_download(bytes_done, bytes_total)`` while a Hub model's
            files download on its first use.

    On a GPU the model runs in its registry dtype (bf16 for SD3 and FLUX, fp16 otherwise; the
    SDXL pipeline upcasts its VAE itself where the VAE needs fp32), falls back to model CPU
    offload when memory is short, and is the only cached pipeline on the GPU. A model that ships
    a safety checker keeps it unless PLAYGROUND_SAFETY_CHECKER=off (medical images trip it
    often); flagged images come back black and are labelled, not scored.

    Raises:
        HubUnreachableError: the Hub did not answer within PLAYGROUND_HUB_TIMEOUT seconds.
    """
    return load(model_id, device, on_download).pipe


def load(model_id: str, device: str | None = None, on_download: DownloadFn | None = None) -> Loaded:
    """`load_pipeline`'s pipeline with its revision and placement (what the engine draws with)."""
    torch_device, _ = pick_device(device)
    safety_checker = get_settings().safety_checker

    def build() -> Loaded:
        from diffusers import AutoPipelineForText2Image

        options = {} if safety_checker else {"safety_checker": None, "requires_safety_checker": False}
        variant = gpu_variant(model_id) if torch_device.type == "cuda" else None
        if variant:
            options["variant"] = variant
        with hub_errors_as_sentences(model_id):
            source = resolve_pipeline_source(model_id, on_download, variant)
            dtype = gpu_dtype(model_id, source) if torch_device.type == "cuda" else torch.float32
            pipe = AutoPipelineForText2Image.from_pretrained(source, dtype=dtype, **options)
        if torch_device.type == "cuda":
            cast_components(pipe, model_id)
        pipe.set_progress_bar_config(disable=True)
        for module in pipe.components.values():
            if isinstance(module, torch.nn.Module):
                module.requires_grad_(False)  # inference only; CLIP guidance differentiates latents alone
        loaded = Loaded(model_id, pipe, _revision(model_id, source))
        _place(loaded, torch_device)
        _built.append(model_id)
        return loaded

    loaded = _pipelines.get((model_id, str(torch_device), safety_checker), build, get_settings().max_loaded_models)
    _activate(loaded, torch_device)
    return loaded


def open_clip_args(scorer_id: str) -> tuple[str, str | None]:
    """(model_name, pretrained) for open_clip from our scorer id.

    Scorer ids: ``ARCH/TAG`` (``ViT-B-32/laion2b_s34b_b79k``), ``hf-hub:org/repo``,
    ``local-dir:/path``, or an offline id (``tiny-offline-clip``).
    """
    if is_offline_model(scorer_id):
        return f"local-dir:{ensure_built(scorer_id, get_settings().models_dir)}", None
    if scorer_id.startswith("local-dir:"):
        return scorer_id, None
    if scorer_id.startswith("hf-hub:"):
        check_hub_for("scorer", scorer_id)
        return scorer_id, None
    arch, sep, tag = scorer_id.partition("/")
    if not sep or not arch or not tag:
        raise PlaygroundError(
            f"Scorer id {scorer_id!r} is not of the form 'ARCH/TAG' (e.g. 'ViT-B-32/laion2b_s34b_b79k'), "
            f"'hf-hub:org/repo', 'local-dir:/path' or '{TINY_SCORER_ID}'."
        )
    if not Path(tag).is_file():
        check_hub_for("scorer", scorer_id)
    return arch, tag


def scorer_loader(scorer_id: str) -> str:
    """How a scorer loads: its registry entry's loader, an offline stand-in's, else open_clip."""
    card = scorer_registry.card(scorer_id)
    if card is not None:
        return card.loader
    return loader_of(scorer_id) if is_offline_model(scorer_id) else "open_clip"


def load_scorer(scorer_id: str, device: str | None = None) -> ClipScorer:
    """A CLIP-style model wrapped as a `ClipScorer`, loaded once and cached: through open_clip
    (see `open_clip_args`) or, for a registered transformers model (PLIP, MONET, ...),
    through transformers (see `hf_clip`).

    Raises:
        HubUnreachableError: the Hub did not answer within PLAYGROUND_HUB_TIMEOUT seconds.
    """
    torch_device, _ = pick_device(device)
    loader = scorer_loader(scorer_id)

    def load() -> ClipScorer:
        if loader != "open_clip":
            return _load_transformers_scorer(scorer_id, loader, torch_device)
        import open_clip

        model_name, pretrained = open_clip_args(scorer_id)
        precision = "fp16" if torch_device.type == "cuda" else "fp32"
        with _weights_must_load(scorer_id):
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained, precision=precision, device=torch_device
            )
        model.eval().requires_grad_(False)
        tokenizer = open_clip.get_tokenizer(model_name)
        return ClipScorer(scorer_id, model, preprocess, tokenizer, torch_device, open_clip.get_input_dtype(precision))

    return _scorers.get((scorer_id, str(torch_device)), load, max_items=4)


# What open_clip logs, and then goes on with random weights, when a model's config loads but its
# weights do not (open_clip/factory.py, the hf-hub and local-dir schemas).
_NO_WEIGHTS = ("Could not find/download default weights", "Local config loaded, but no CLIP weights found")


@contextmanager
def _weights_must_load(scorer_id: str) -> Iterator[None]:
    """Refuse, in a sentence, a CLIP whose weights did not load: it would score with random weights."""
    missed: list[str] = []

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith(_NO_WEIGHTS):
                missed.append(record.getMessage())

    watch = Watch(logging.WARNING)
    logging.getLogger().addHandler(watch)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(watch)
    if missed:
        raise PlaygroundError(f"The scorer {scorer_id} has a config but its weights did not load, so it would score "
                              "with random weights; it is not used. Check the id (or the folder's "
                              "open_clip_model.safetensors) and the Hub connection.")


def _load_transformers_scorer(scorer_id: str, loader: str, device: torch.device) -> ClipScorer:
    source = source_of(scorer_id, "scorer")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    with hub_errors_as_sentences(scorer_id):
        model, preprocess, tokenizer = hf_clip.load(source, loader, device, dtype)
    model.requires_grad_(False)
    return ClipScorer(scorer_id, model, preprocess, tokenizer, device, dtype)


def clear_caches() -> None:
    """Forget every loaded model: pipelines, CLIP scorers, vision-language models, x-ray
    classifiers (frees memory; the next request loads again)."""
    clear_all()
