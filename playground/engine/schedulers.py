"""Scheduler objects for a row's sampler (names in `playground.samplers`).

Every run gets a fresh scheduler object, because diffusers schedulers keep per-run state
(`set_timesteps`) and a cached pipeline is shared. diffusers is imported on first use.
"""

from __future__ import annotations

from typing import Any

from ..errors import PlaygroundError
from ..samplers import DEFAULT, SCHEDULERS, check_name


def make(name: str, base: Any) -> Any:
    """A fresh scheduler called `name`, configured from the model's scheduler `base`.

    A sampler the model's scheduler does not list as compatible (a DDPM-style sampler on a
    flow-matching model such as SD3 or FLUX) is refused: it would run and draw noise.
    """
    import diffusers

    check_name(name)
    if name == DEFAULT:
        return type(base).from_config(base.config)
    class_name, extra = SCHEDULERS[name]
    if class_name not in {c.__name__ for c in base.compatibles} | {type(base).__name__}:
        raise PlaygroundError(
            f"The sampler {name!r} does not work with this model's {type(base).__name__}; choose '{DEFAULT}'."
        )
    return getattr(diffusers, class_name).from_config(base.config, **extra)


def label(scheduler: Any) -> str:
    """The A1111-style name of a scheduler object, or its class name when it has none."""
    class_name = type(scheduler).__name__
    karras = bool(getattr(scheduler.config, "use_karras_sigmas", False))
    for name, (cls, extra) in SCHEDULERS.items():
        if cls == class_name and bool(extra.get("use_karras_sigmas", False)) == karras:
            return name
    return class_name
