"""Drafts decoded in full on demand.

A draft (a comparison with `decoder="fast"`) is decoded by its model's tiny decoder; before one is
preferred, judged for a study or exported, `full_decode` draws it again with the model's VAE. The
latents are not kept: the image's model, setting, prompt column and seed are run again, which
gives the same latents (each image has its own generator, and CLIP guidance its own cutouts, so
its batch does not matter beyond float rounding: a grey level or two) for no memory between
requests, and a full image drawn before comes from the image cache at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..comparison import Comparison, ComparisonResult
from .generate import run
from .progress import ProgressFn


def full_decode(comparison: Comparison, row: Mapping, progress: ProgressFn | None = None) -> ComparisonResult:
    """The image of `row` (a row of `comparison`'s result frame, a draft or not) decoded by its
    model's VAE (see `Comparison.full_decode_of`), as one image whose frame row keeps the draft's
    grid `row` and `column`.

    Example:
        >>> drafts = replace(comparison, decoder="fast")
        >>> chosen = full_decode(drafts, run(drafts).frame.iloc[3])
    """
    result = run(comparison.full_decode_of(row), progress)
    result.frame["row"], result.frame["column"] = int(row["row"]), int(row["column"])
    return result
