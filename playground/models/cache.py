"""The caches of loaded models: pipelines, CLIP scorers, vision-language models, x-ray classifiers.

Each kind has its own small least-recently-used `Cache`; every cache made registers itself, so
`clear_all` forgets every loaded model, whatever its kind.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_caches: weakref.WeakSet[Cache] = weakref.WeakSet()


class Cache:
    """A small least-recently-used cache whose loads happen under one lock (no double loads)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        _caches.add(self)

    def get(self, key: tuple, load: Callable[[], T], max_items: int) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            value = load()
            self._items[key] = value
            while len(self._items) > max(1, max_items):
                self._items.popitem(last=False)
            return value

    def values(self) -> list:
        with self._lock:
            return list(self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def clear_all() -> None:
    """Empty every cache of loaded models."""
    for cache in list(_caches):
        cache.clear()
