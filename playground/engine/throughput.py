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
_warm: set[str] = set()  # keys drawn in this process: the first batch of each pays for warming up, so it
# counts only when nothing is known yet


def _path() -> Path:
    return get_settings().home / "cache" / "throughput.json"


def _key(model_id: str, device: str, guided: bool) -> str:
    return f"{model_id}|{device}|{'clip-guided' if guided else 'plain'}"


def _read() -> dict[str, float]:
    """The measurements, parsed again only when the file changed (the cost under Generate reads
    them on every change of the form, several times per estimate)."""
    path = _path()
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if _parsed.get(path, (None,))[0] != stamp:
            found = json.loads(path.read_text(encoding="utf-8"))
            _parsed[path] = stamp, ({k: float(v) for k, v in found.items() if isinstance(v, (int, float)) and v > 0}
                                    if isinstance(found, dict) else {})
    except (OSError, ValueError):
        return {}
    return dict(_parsed[path][1])


_parsed: dict[Path, tuple[tuple[int, int], dict[str, float]]] = {}  # by file: its stamp when parsed, and what it held


def _average(key: str, value: float) -> None:
    """Fold `value` into the running average stored under `key`."""
    with _lock:
        known = _read()
        known[key] = value if key not in known else WEIGHT * value + (1 - WEIGHT) * known[key]
        try:
            with atomic(_path()) as tmp:
                tmp.write_text(json.dumps(known, indent=1), encoding="utf-8")
        except OSError:  # a full or read-only disk: the estimate falls back to the registry
            pass


def record(model_id: str, device: str, guided: bool, pixels: int, image_steps: int, seconds: float) -> None:
    """Add one batch's time: `image_steps` (images x steps) at `pixels` per image took `seconds`."""
    key = _key(model_id, device, guided)
    warming_up = key not in _warm
    _warm.add(key)
    if image_steps <= 0 or pixels <= 0 or seconds <= 0 or (warming_up and key in _read()):
        return
    _average(key, seconds / image_steps / (pixels / 1e6))


def step_seconds(model_id: str, device: str, guided: bool, pixels: int) -> float | None:
    """Measured seconds per image-step at `pixels` per image, or None when never measured here."""
    known = _read().get(_key(model_id, device, guided))
    return None if known is None else known * pixels / 1e6


def record_rest(panel: str, device: str, images: int, seconds: float) -> None:
    """Add the time a request spent on `images` images besides denoising them: judging them with
    the judges `panel` names, saving them and the grid, the batch's set-up, showing them."""
    if images > 0 and seconds > 0:
        _average(f"rest|{panel}|{device}", seconds / images)


def rest_seconds(panel: str, device: str) -> float | None:
    """Measured seconds per image besides denoising (see `record_rest`), or None when never measured here."""
    return _read().get(f"rest|{panel}|{device}")
