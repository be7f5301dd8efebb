"""Decide, once at start, which models the app offers and whether it must say it is offline.

An app that cannot reach the Hub must say so plainly and fall back to the tiny offline models
rather than hang; this module makes that decision without Gradio, so it is tested directly.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from .config import Settings, get_settings
from .stores.library import pull_from_hub
from .engine.models import hub_problem
from .engine.offline_models import TINY_MEDICAL_SCORER_ID, TINY_PIPELINE_ID, TINY_SCORER_ID, is_offline_model

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    """What this process serves: model and scorer choices (first = default) and a banner."""

    models: tuple[str, ...]
    scorers: tuple[str, ...]
    medical_scorers: tuple[str, ...]
    banner: str | None  # shown on top of the page when images come from random-weight models

    @property
    def offline(self) -> bool:
        return self.banner is not None


OFFLINE_BANNER = (
    "**Offline demo mode:** {reason}. The images on this page come from random-weight test models "
    f"(`{TINY_PIPELINE_ID}`, scored by `{TINY_SCORER_ID}` and `{TINY_MEDICAL_SCORER_ID}`): they are noise, useful to try the "
    "interface, not to judge what a model knows about medicine. Set `PLAYGROUND_MODEL` to a "
    "Hub id or a local folder on a machine that has it to see real images."
)


def offline_runtime(reason: str) -> Runtime:
    return Runtime((TINY_PIPELINE_ID,), (TINY_SCORER_ID,), (TINY_MEDICAL_SCORER_ID,), OFFLINE_BANNER.format(reason=reason))


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
        models=tuple(dict.fromkeys([settings.model, *settings.extra_models, TINY_PIPELINE_ID])),
        scorers=tuple(dict.fromkeys([settings.scorer, TINY_SCORER_ID])),
        medical_scorers=tuple(dict.fromkeys([settings.medical_scorer, TINY_MEDICAL_SCORER_ID])),
        banner=None,
    )


def seed_library_in_background() -> threading.Thread | None:
    """With LIBRARY_HUB_REPO set, merge the dataset's records into the local library without
    delaying start; a failure is logged and the app serves the local library as it is."""
    if not get_settings().library_hub_repo:
        return None

    def pull() -> None:
        try:
            added, merged = pull_from_hub()
            logger.info("Library seeded from the Hub: %d new records, %d merged.", added, merged)
        except Exception as exc:  # offline, private repo, bad file: the local library still works
            logger.warning("Could not seed the library from the Hub: %s", exc)

    thread = threading.Thread(target=pull, name="library-pull", daemon=True)
    thread.start()
    return thread
