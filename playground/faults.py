"""Named faults a test arms so that a real code path fails once, as it would in production.

Out-of-memory cannot be produced on demand on a CPU test machine; arming "oom" makes the next
denoising call raise torch.OutOfMemoryError, so the handling around it (a plain message, freed
memory, a usable model afterwards) is tested for real.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_armed: set[str] = set()
_lock = threading.Lock()


def arm(name: str) -> None:
    """Make the next `trip(name, ...)` raise."""
    with _lock:
        _armed.add(name)


def trip(name: str, error: Callable[[], BaseException]) -> None:
    """Raise `error()` if `name` is armed, disarming it; otherwise do nothing."""
    with _lock:
        if name not in _armed:
            return
        _armed.discard(name)
    raise error()
