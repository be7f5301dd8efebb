"""The image scorers the playground knows: `prompt_library/scorers.yaml`, one entry per CLIP-style model.

Each entry says how the model loads (open_clip, or transformers CLIPModel / SiglipModel), which
template modalities it knows (`all`: any biomedical image), its licence and citation, and whether
it is restricted (non-commercial or gated: off by default on a public Space). Every image gets,
besides the general CLIP, the domain scorer registered for its template's modality (`route`): a
pathology CLIP for histology, a radiology CLIP for x-rays, a dermatology CLIP for skin
photographs, BiomedCLIP otherwise. Tiny offline stand-ins route the same way offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import get_settings
from .datafiles import load_cards

ANY = "all"  # suits any biomedical image; used where no scorer names the modality


class ScorerCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # what load_scorer takes: "hf-hub:org/repo" (open_clip) or "org/repo" (transformers)
    loader: Literal["open_clip", "transformers-clip", "transformers-siglip"]
    modalities: tuple[str, ...] = Field(min_length=1)
    licence: str
    restricted: bool  # non-commercial or gated
    citation: str
    note: str
    source: str
    offline: bool = False  # a tiny random-weight stand-in built locally


@dataclass(frozen=True)
class ScorerRegistry:
    cards: dict[str, ScorerCard]
    problems: tuple[str, ...]

    def route(self, modality: str, offline: bool, allow_restricted: bool | None = None) -> str | None:
        """The domain scorer for `modality`: the first entry naming it, else the first for `all`
        (None when neither exists); offline stand-ins when `offline`, Hub models otherwise."""
        allowed = restricted_allowed() if allow_restricted is None else allow_restricted
        candidates = [c for c in self.cards.values() if c.offline == offline and (allowed or not c.restricted)]
        for wanted in (modality, ANY):
            found = next((c.id for c in candidates if wanted in c.modalities), None)
            if found:
                return found
        return None


    def offered(self, offline: bool) -> list[str]:
        """The scorers a user may pin: the stand-ins offline, else the Hub ones allowed here."""
        allowed = restricted_allowed()
        return [c.id for c in self.cards.values() if c.offline == offline and (allowed or not c.restricted)]


def restricted_allowed() -> bool:
    """Non-commercial and gated scorers are off on a public Space (SPACE_ID is set there) unless
    the operator sets PLAYGROUND_ALLOW_RESTRICTED=1; elsewhere they are on."""
    return get_settings().allow_restricted or not os.environ.get("SPACE_ID")


def load_scorers(path: Path | None = None) -> ScorerRegistry:
    """The registry from PLAYGROUND_DATA's scorers.yaml (read again when the file changes)."""
    return ScorerRegistry(*load_cards(path or get_settings().data_dir / "scorers.yaml", ScorerCard))


def card(scorer_id: str) -> ScorerCard | None:
    return load_scorers().cards.get(scorer_id)
