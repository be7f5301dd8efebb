"""Generated images cached on disk, keyed by everything that determines them, so a Generate after
editing one column draws only that column.

A key hashes the model and its revision (an offline model's config digest, a Hub snapshot's
commit), the device and dtype, the prompt and negative prompt sent, every guidance setting (and
the guiding CLIP when CLIP guidance is on), the seed, the size, and the decoders (the VAE, or the
tiny decoder and its weights' revision, for the image and for CLIP guidance), so a draft and a full
image never stand for each other. An image is a PNG under PLAYGROUND_HOME/cache/images/, so the
cache survives restarts; a hit touches the file, and after each request the least recently used
files go until the cache fits PLAYGROUND_IMAGE_CACHE_MB (0 turns the cache off). Only real
images are stored (not a safety-checker black-out or a NaN).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from PIL import Image

from ..config import get_settings
from ..files import atomic


def cache_key(**inputs: object) -> str:
    """A hash of every input that determines an image (a change in any one is a new key)."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


class ImageCache:
    """PNG files by key under `folder`, at most `max_bytes` in all after `evict`."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder, self.max_bytes = folder, max_bytes

    @classmethod
    def configured(cls) -> ImageCache | None:
        """The cache PLAYGROUND_IMAGE_CACHE_MB describes, or None when it is 0 (off)."""
        settings = get_settings()
        if settings.image_cache_mb <= 0:
            return None
        return cls(settings.home / "cache" / "images", settings.image_cache_mb * 2**20)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.png"

    def get(self, key: str) -> Image.Image | None:
        path = self._path(key)
        try:
            with Image.open(path) as image:
                image.load()
                found = image.copy()
        except (FileNotFoundError, OSError):
            return None
        os.utime(path)  # most recently used
        return found

    def put(self, key: str, image: Image.Image) -> None:
        with atomic(self._path(key)) as tmp:
            image.save(tmp, format="PNG")

    def evict(self) -> None:
        """Remove the least recently used images until the cache fits its size."""
        files = sorted(self.folder.glob("*/*.png"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for path in files:
            if total <= self.max_bytes:
                break
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
