"""The prompt library's public import path: ``from playground.library import Library``.

The store itself lives in playground/stores/library.py; this module only names it, and like it
loads no torch.
"""

from .stores.library import EXPORT_FORMATS, PAGE_SIZES, SORTS, Library, Logged, Page, open_library, prefer, pull_from_hub

__all__ = [
    "EXPORT_FORMATS", "PAGE_SIZES", "SORTS", "Library", "Logged", "Page", "open_library", "prefer", "pull_from_hub",
]
