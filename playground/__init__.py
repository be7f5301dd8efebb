"""Medical text-to-image prompt playground: compare prompts and guidance, score with CLIP.

The API a notebook uses is the one the Gradio app uses:

    >>> from playground import compare, GuidanceSetting
    >>> result = compare("Graves' disease", ["photo-short", "histopathology-detailed"],
    ...                  [GuidanceSetting(4.0, steps=2), GuidanceSetting(7.5, steps=2)])
    >>> len(result.images), list(result.frame.columns)[:4]

Lower level: `Comparison` + `run` to generate, `load_scorer` + `add_clip_scores` to score,
`load_pipeline` for any diffusers model, `load_templates` for the prompt library.
"""

from .config import Settings, get_settings
from .generate import FRAME_COLUMNS, Column, Comparison, ComparisonResult, GuidanceSetting, compare, run
from .models import HubUnreachableError, clear_caches, hub_problem, load_pipeline, load_scorer, pick_device
from .offline_models import TINY_PIPELINE_ID, TINY_SCORER_ID
from .scoring import ClipScorer, add_clip_scores, clip_score
from .templates import Template, TemplateSet, fill, load_templates

__all__ = [
    "FRAME_COLUMNS", "TINY_PIPELINE_ID", "TINY_SCORER_ID", "ClipScorer", "Column", "Comparison",
    "ComparisonResult", "GuidanceSetting", "HubUnreachableError", "Settings", "Template", "TemplateSet",
    "add_clip_scores", "clear_caches", "clip_score", "compare", "fill", "get_settings", "hub_problem",
    "load_pipeline", "load_scorer", "load_templates", "pick_device", "run",
]
