"""The judges the playground runs: `prompt_library/judges.yaml`, one entry per judge, in order.

An entry names the function that builds the judge (`module:function`) and its cost per image on
a ZeroGPU GPU; the judges package imports the function when a panel is first built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..config import get_settings
from .datafiles import load_cards


class JudgeCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # also the step its columns are declared under (playground/schema.py)
    build: str = Field(pattern=r"^[\w.]+:\w+$")  # module:function, called with the person's choices
    title: str
    gpu_seconds_per_image: float = Field(ge=0)
    note: str = ""


@dataclass(frozen=True)
class JudgeRegistry:
    cards: dict[str, JudgeCard]
    problems: tuple[str, ...]


def load_judge_cards(path: Path | None = None) -> JudgeRegistry:
    """The registry from PLAYGROUND_DATA's judges.yaml (read again when the file changes)."""
    return JudgeRegistry(*load_cards(path or get_settings().data_dir / "judges.yaml", JudgeCard))
