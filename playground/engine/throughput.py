"""How fast each model draws here: seconds per image-step, measured on every batch it draws.

A ZeroGPU request asks for a duration up front, and the Compare tab says what a grid will cost
before it runs; both read these measurements where they exist (the registry's `step_seconds`
otherwise). Times are kept per model, device and CLIP guidance (on or off), per megapixel, as a
running average, in PLAYGROUND_HOME/cache/throughput.json, so they survive restarts and reach the
process that plans a request from the process that drew (a ZeroGPU worker).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from ..config import get_settings
from ..files import atomic

WEIGHT = 0.5  # of the newest measurement in the running average
_lock = threading.Lock()


def _path() -> Path:
    return get_settings().home / "cache" / "throughput.json"


def _key(model_id: str, device: str, guided: bool) -> str:
    return f"{model_id}|{device}|{'clip-guided' if guided else 'plain'}"


def _read() -> dict[str, float]:
    try:
        found = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in found.items() if isinstance(v, (int, float)) and v > 0} if isinstance(found, dict) else {}


def record(model_id: str, device: str, guided: bool, pixels: int, image_steps: int, seconds: float) -> None:
    """Add one batch's time: `image_steps` (images x steps) at `pixels` per image took `seconds`."""
    if image_steps <= 0 or pixels <= 0 or seconds <= 0:
        return
    per_megapixel = seconds / image_steps / (pixels / 1e6)
    with _lock:
        known = _read()
        key = _key(model_id, device, guided)
        known[key] = per_megapixel if key not in known else WEIGHT * per_megapixel + (1 - WEIGHT) * known[key]
        try:
            with atomic(_path()) as tmp:
                tmp.write_text(json.dumps(known, indent=1), encoding="utf-8")
        except OSError:  # a full or read-only disk: the estimate falls back to the registry
            pass


def step_seconds(model_id: str, device: str, guided: bool, pixels: int) -> float | None:
    """Measured seconds per image-step at `pixels` per image, or None when never measured here."""
    known = _read().get(_key(model_id, device, guided))
    return None if known is None else known * pixels / 1e6
