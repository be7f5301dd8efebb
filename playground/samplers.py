"""The samplers a comparison row may choose, by the names AUTOMATIC1111 users know.

Names only (the request types, the registry and the UI check them without loading diffusers);
`engine.schedulers` builds the scheduler objects. "default" keeps the model's own scheduler.
"""

from __future__ import annotations

from typing import Any

from .errors import PlaygroundError

DEFAULT = "default"

# name -> (diffusers class, extra config)
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DDIM": ("DDIMScheduler", {}),
    "PNDM": ("PNDMScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
}


def names() -> list[str]:
    return [DEFAULT, *SCHEDULERS]


def check_name(name: str) -> None:
    if name != DEFAULT and name not in SCHEDULERS:
        raise PlaygroundError(f"Unknown scheduler {name!r}; choose one of: {', '.join(names())}.")
