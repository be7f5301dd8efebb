"""Settings read from environment variables, in one place.

Every other module asks `get_settings()` instead of reading `os.environ`, so a test (or a Space
operator) changes behaviour by setting a variable, and the README documents one table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import PlaygroundError

SHIPPED_DATA = Path(__file__).resolve().parent / "prompt_library"  # package data: the curated content
BIOMEDCLIP = "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"
DEFAULT_JUDGE = "HuggingFaceTB/SmolVLM2-2.2B-Instruct"  # Apache-2.0; the checklist judge
# The tiny random-weight stand-ins (models/offline_configs/): the defaults when PLAYGROUND_OFFLINE=1.
TINY_PIPELINE_ID = "tiny-offline"
TINY_SCORER_ID = "tiny-offline-clip"
TINY_MEDICAL_SCORER_ID = "tiny-offline-medclip"  # offline stand-in for BiomedCLIP
TINY_VLM_ID = "tiny-offline-vlm"  # offline stand-in for SmolVLM2


def _env_number(name: str, default: float, kind: type = int) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise PlaygroundError(f"Environment variable {name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}.") from None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """What the operator can configure. Field comments give the variable and the unit."""

    home: Path  # PLAYGROUND_HOME: cache of offline models, generated images, library data
    data_dir: Path  # PLAYGROUND_DATA: the curated prompt_library folder (templates, criteria, studies...)
    model: str  # PLAYGROUND_MODEL: default text-to-image model (Hub id, local folder or tiny-offline)
    extra_models: tuple[str, ...]  # PLAYGROUND_MODELS: more models offered, comma-separated
    allow_any_model: bool  # PLAYGROUND_ALLOW_ANY_MODEL=1: the API may name any Hub id or folder
    scorer: str  # PLAYGROUND_SCORER: default CLIP scorer ("ARCH/TAG", "hf-hub:org/repo", ...)
    medical_scorer: str  # PLAYGROUND_MEDICAL_SCORER: the medical CLIP offered beside the general one
    hub_offline: bool  # HF_HUB_OFFLINE=1: huggingface_hub reads its local cache only
    offline: bool  # PLAYGROUND_OFFLINE=1: never contact the Hub, use the tiny offline models
    hub_timeout_s: float  # PLAYGROUND_HUB_TIMEOUT: seconds before the Hub counts as unreachable
    device: str | None  # PLAYGROUND_DEVICE: force "cpu", "cuda" or "mps"; unset = best available
    library_path: Path  # PLAYGROUND_LIBRARY: the shared prompt library's SQLite file (default: in home)
    calibrations_path: Path  # PLAYGROUND_CALIBRATIONS: the judges' calibrations' SQLite file (default: in home)
    library_hub_repo: str | None  # LIBRARY_HUB_REPO: dataset repo the library is shared through
    safety_checker: bool  # PLAYGROUND_SAFETY_CHECKER=off: drop a model's safety checker
    library_timeout_s: float  # PLAYGROUND_LIBRARY_TIMEOUT: seconds a library write waits for a lock
    vote_window_h: float  # PLAYGROUND_VOTE_WINDOW_H: hours in which one visitor's votes for a record count once
    max_prompt_chars: int  # PLAYGROUND_MAX_PROMPT_CHARS: longest subject or prompt accepted
    max_images: int  # PLAYGROUND_MAX_IMAGES: images per comparison request
    max_steps: int  # PLAYGROUND_MAX_STEPS: denoising steps per image
    max_size: int  # PLAYGROUND_MAX_SIZE: width and height in pixels
    max_batch: int  # PLAYGROUND_MAX_BATCH: images denoised together in one pipeline call
    max_work: int  # PLAYGROUND_MAX_WORK: one request's work, in image-steps at 512x512 (images x steps x pixels)
    max_loaded_models: int  # PLAYGROUND_MAX_LOADED: pipelines kept in memory at once
    max_upload_mb: int  # PLAYGROUND_MAX_UPLOAD_MB: largest file a visitor may upload (library import)
    zerogpu_max_s: int  # PLAYGROUND_ZEROGPU_MAX_SECONDS: the longest GPU duration one ZeroGPU call may ask for
    queue_size: int  # PLAYGROUND_QUEUE_SIZE: requests waiting before visitors are told to retry
    monitoring: bool  # PLAYGROUND_MONITORING=1: Gradio's /monitoring pages (off: traffic is not public)
    preload: bool  # PLAYGROUND_PRELOAD=1: download and load the default model while the app starts
    draw_cases: bool  # PLAYGROUND_DRAW_CASES=1: draw the Educators cases in the background at start
    allow_restricted: bool  # PLAYGROUND_ALLOW_RESTRICTED=1: non-commercial/gated scorers on a public Space
    image_cache_mb: int  # PLAYGROUND_IMAGE_CACHE_MB: disk cache of generated images (LRU; 0: off)
    outputs_mb: int  # PLAYGROUND_OUTPUTS_MB: the served outputs folder's cap (oldest grids and exports go; 0: none)
    judge: str  # PLAYGROUND_JUDGE: the vision-language checklist judge offered first ("none": no judge by default)
    judge_split: bool  # PLAYGROUND_JUDGE_SPLIT=off: the judge sees each image as one frame, not split into crops
    mcp: bool  # PLAYGROUND_MCP=off: no MCP server (on by default; it needs gradio[mcp])

    @property
    def model_is_local(self) -> bool:
        """True when the default model loads without the Hub (a folder, or HF_HUB_OFFLINE's cache)."""
        return Path(self.model).is_dir() or self.hub_offline

    @property
    def templates_dir(self) -> Path:
        return self.data_dir / "templates"

    @property
    def original_study(self) -> Path:
        """The original study's ratings (XLSX), shipped with its licence."""
        return self.data_dir / "study-data" / "observer_study_glide_v1_merge.xlsx"

    @property
    def log_path(self) -> Path:
        """Where the command line logs tracebacks of unexpected errors."""
        return self.home / "logs" / "playground.log"

    @property
    def models_dir(self) -> Path:
        """Where the tiny offline models are built once and loaded from."""
        return self.home / "models"

    @property
    def outputs_dir(self) -> Path:
        """Generated images; the only folder the app serves files from."""
        return self.home / "outputs"

    @property
    def library_hub_dir(self) -> Path:
        """JSONL files waiting for (or already in) the Hub dataset repo."""
        return self.home / "library_hub"

    @property
    def runs_dir(self) -> Path:
        """Sweep runs the Study tab can rate. Not served: their tables name prompts and settings,
        and their ratings databases hold rater names; raters see blinded copies (`blind_dir`)."""
        return self.home / "runs"

    @property
    def blind_dir(self) -> Path:
        """Copies of sweep images shown to raters: no metadata, opaque names (inside the served folder)."""
        return self.outputs_dir / "blind"

    @property
    def arena_dir(self) -> Path:
        """The Arena's drawn images with their parameters. Not served: voters see blinded copies."""
        return self.home / "arena"

    @property
    def library_images_dir(self) -> Path:
        """Images of preferred records, inside the served folder."""
        return self.outputs_dir / "library"


def default_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "medical-prompt-playground"


def get_settings() -> Settings:
    """Read the settings now (cheap), so changes to the environment take effect."""
    device = os.environ.get("PLAYGROUND_DEVICE", "").strip() or None
    if device not in {None, "cpu", "cuda", "mps"}:
        raise PlaygroundError(f"PLAYGROUND_DEVICE must be cpu, cuda or mps, got {device!r}.")
    home = Path(os.environ.get("PLAYGROUND_HOME") or default_home())
    offline = _env_flag("PLAYGROUND_OFFLINE")

    def chosen(name: str, online: str, stand_in: str) -> str:
        """The variable's value, else the default: the tiny stand-in when offline."""
        return os.environ.get(name, "").strip() or (stand_in if offline else online)

    return Settings(
        home=home,
        data_dir=Path(os.environ.get("PLAYGROUND_DATA") or SHIPPED_DATA),
        model=chosen("PLAYGROUND_MODEL", "stabilityai/sd-turbo", TINY_PIPELINE_ID),
        extra_models=tuple(m.strip() for m in os.environ.get("PLAYGROUND_MODELS", "").split(",") if m.strip()),
        allow_any_model=_env_flag("PLAYGROUND_ALLOW_ANY_MODEL"),
        scorer=chosen("PLAYGROUND_SCORER", "ViT-B-32/laion2b_s34b_b79k", TINY_SCORER_ID),
        medical_scorer=chosen("PLAYGROUND_MEDICAL_SCORER", BIOMEDCLIP, TINY_MEDICAL_SCORER_ID),
        hub_offline=_env_flag("HF_HUB_OFFLINE"),
        offline=offline,
        hub_timeout_s=_env_number("PLAYGROUND_HUB_TIMEOUT", 10.0, float),
        device=device,
        library_path=Path(os.environ.get("PLAYGROUND_LIBRARY") or home / "library.sqlite"),
        calibrations_path=Path(os.environ.get("PLAYGROUND_CALIBRATIONS") or home / "calibrations.sqlite"),
        library_hub_repo=os.environ.get("LIBRARY_HUB_REPO", "").strip() or None,
        safety_checker=os.environ.get("PLAYGROUND_SAFETY_CHECKER", "on").strip().lower() not in {"off", "0", "false", "no"},
        library_timeout_s=_env_number("PLAYGROUND_LIBRARY_TIMEOUT", 30.0, float),
        vote_window_h=_env_number("PLAYGROUND_VOTE_WINDOW_H", 24.0, float),
        max_prompt_chars=_env_number("PLAYGROUND_MAX_PROMPT_CHARS", 2000),
        max_images=_env_number("PLAYGROUND_MAX_IMAGES", 64),
        max_steps=_env_number("PLAYGROUND_MAX_STEPS", 100),
        max_size=_env_number("PLAYGROUND_MAX_SIZE", 1024),
        max_batch=_env_number("PLAYGROUND_MAX_BATCH", 8),
        max_work=_env_number("PLAYGROUND_MAX_WORK", 4096),
        max_loaded_models=_env_number("PLAYGROUND_MAX_LOADED", 2),
        max_upload_mb=_env_number("PLAYGROUND_MAX_UPLOAD_MB", 10),
        zerogpu_max_s=_env_number("PLAYGROUND_ZEROGPU_MAX_SECONDS", 300),
        queue_size=_env_number("PLAYGROUND_QUEUE_SIZE", 20),
        monitoring=_env_flag("PLAYGROUND_MONITORING"),
        preload=_env_flag("PLAYGROUND_PRELOAD"),
        draw_cases=_env_flag("PLAYGROUND_DRAW_CASES"),
        allow_restricted=_env_flag("PLAYGROUND_ALLOW_RESTRICTED"),
        image_cache_mb=_env_number("PLAYGROUND_IMAGE_CACHE_MB", 2048),
        outputs_mb=_env_number("PLAYGROUND_OUTPUTS_MB", 4096),
        judge=chosen("PLAYGROUND_JUDGE", DEFAULT_JUDGE, TINY_VLM_ID),
        judge_split=os.environ.get("PLAYGROUND_JUDGE_SPLIT", "on").strip().lower() not in {"off", "0", "false", "no"},
        mcp=os.environ.get("PLAYGROUND_MCP", "on").strip().lower() not in {"off", "0", "false", "no"},
    )
