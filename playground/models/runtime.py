"""Decide, once at start, which models the app offers and whether it must say it is offline.

An app that cannot reach the Hub must say so plainly and fall back to the tiny offline models
rather than hang; this module makes that decision without Gradio, so it is tested directly.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from ..catalog.scorers import load_scorers
from ..config import (
    TINY_MEDICAL_SCORER_ID,
    TINY_PIPELINE_ID,
    TINY_SCORER_ID,
    TINY_VLM_ID,
    Settings,
    get_settings,
)
from .loading import hub_problem
from .offline import is_offline_model
from .registry import load_models

logger = logging.getLogger(__name__)


AUTO = "auto"  # the domain CLIP routed by each image's modality (judges.base.AUTO)


@dataclass(frozen=True)
class Runtime:
    """What this process serves: model, scorer and judge choices (first = default), whether it
    runs offline (the tiny stand-ins), and the banner that says so."""

    models: tuple[str, ...]
    scorers: tuple[str, ...]
    medical_scorers: tuple[str, ...]
    banner: str | None = None  # shown on top of the page when images come from random-weight models
    judges: tuple[str, ...] = ()  # vision-language checklist judges offered (first = default)
    offline: bool = False

    @property
    def domain_scorers(self) -> tuple[str, ...]:
        """What the domain CLIP may be: routed by modality (AUTO), or one of the registered scorers."""
        return (AUTO, *load_scorers().offered(self.offline))


OFFLINE_BANNER = (
    "**Offline demo mode:** {reason}. The images on this page come from random-weight test models "
    f"(`{TINY_PIPELINE_ID}`, scored by `{TINY_SCORER_ID}` and `{TINY_MEDICAL_SCORER_ID}`): they are noise, useful to try the "
    "interface, not to judge what a model knows about medicine. Set `PLAYGROUND_MODEL` to a "
    "Hub id or a local folder on a machine that has it to see real images."
)


def offline_runtime(reason: str) -> Runtime:
    """The tiny offline models of every family (tiny-offline first), and the banner saying why."""
    models = tuple(dict.fromkeys([TINY_PIPELINE_ID, *load_models().offline_models()]))
    return Runtime(models, (TINY_SCORER_ID,), (TINY_MEDICAL_SCORER_ID,), OFFLINE_BANNER.format(reason=reason),
                   (TINY_VLM_ID,), offline=True)


def detect_runtime(settings: Settings | None = None) -> Runtime:
    """Check the Hub once (bounded by PLAYGROUND_HUB_TIMEOUT) and choose what to serve."""
    settings = settings or get_settings()
    if settings.offline:
        return offline_runtime("PLAYGROUND_OFFLINE is set, so the Hugging Face Hub is not contacted")
    if is_offline_model(settings.model):
        return offline_runtime(f"PLAYGROUND_MODEL is the offline test model '{settings.model}'")
    needs_hub = not settings.model_is_local
    problem = hub_problem() if needs_hub else None
    if problem:
        return offline_runtime(problem[0].upper() + problem[1:])
    return Runtime(
        models=tuple(dict.fromkeys([settings.model, *load_models().hub_models(), *settings.extra_models, TINY_PIPELINE_ID])),
        scorers=tuple(dict.fromkeys([settings.scorer, TINY_SCORER_ID])),
        medical_scorers=tuple(dict.fromkeys([settings.medical_scorer, TINY_MEDICAL_SCORER_ID])),
        banner=None,
        judges=() if settings.judge.lower() == "none" else (settings.judge,),
    )


def preload_in_background(model_id: str) -> threading.Thread | None:
    """With PLAYGROUND_PRELOAD=1, download and load the default model while the app starts, so
    a Space's first visitor does not wait for gigabytes; progress and failures go to the log."""
    if not get_settings().preload:
        return None
    from .loading import load_pipeline

    def report(done: int, total: int) -> None:
        logger.info("Preloading %s: %.1f of %.1f GB", model_id, done / 1e9, total / 1e9)

    def preload() -> None:
        try:
            load_pipeline(model_id, on_download=report)
            logger.info("Preloaded %s.", model_id)
        except Exception as exc:  # the first request will try again and say what is wrong
            logger.warning("Could not preload %s: %s", model_id, exc)

    thread = threading.Thread(target=preload, name="preload", daemon=True)
    thread.start()
    return thread
