"""Medical text-to-image prompt playground: compare prompts, guidance and models; judge every image.

The API a notebook uses is the one the Gradio app uses:

    >>> from playground import compare, GuidanceSetting
    >>> result = compare("Graves' disease", ["photo-short", "histopathology-detailed"],
    ...                  [GuidanceSetting(4.0, steps=2), GuidanceSetting(7.5, steps=2)])
    >>> len(result.images), list(result.frame.columns)[:4]

`model_preset(model_id)` gives a model's recommended rows and size (prompt_library/models.yaml);
`compare(..., model_id=[...])` puts up to 4 models side by side. Lower level: `Comparison` + `run` to generate, `evaluate` to judge, `load_scorer` +
`add_clip_scores` to score, `load_pipeline` for any diffusers model, `load_templates` for the
prompt library. Names load on first use (as diffusers' own `__init__` does), so importing the
package, its statistics or its library loads no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS = {
    "Column": "comparison", "Comparison": "comparison", "ComparisonResult": "comparison",
    "GuidanceSetting": "comparison", "Preset": "comparison", "model_preset": "comparison",
    "ModelCard": "model_registry", "load_models": "model_registry",
    "COLUMNS": "schema", "ResultColumn": "schema",
    "PlaygroundError": "errors", "HubUnreachableError": "errors",
    "Settings": "config", "get_settings": "config",
    "Template": "templates", "TemplateSet": "templates", "fill": "templates", "load_templates": "templates",
    "compare": "workflow", "compare_to_folder": "workflow", "evaluate": "workflow",
    "generate_and_evaluate": "workflow", "Judges": "workflow", "stream_and_evaluate": "workflow",
    "stream_to_folder": "workflow", "rerun_cell": "workflow",
    "run": "engine.generate", "stream": "engine.generate",
    "clear_caches": "engine.models", "hub_problem": "engine.models", "load_pipeline": "engine.models",
    "load_scorer": "engine.models", "pick_device": "engine.models",
    "TINY_PIPELINE_ID": "engine.offline_models", "TINY_SCORER_ID": "engine.offline_models",
    "ClipScorer": "engine.clip_model", "clip_score": "engine.clip_model",
    "add_clip_scores": "judges.clip",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'playground' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from .comparison import Column, Comparison, ComparisonResult, GuidanceSetting, Preset, model_preset
    from .config import Settings, get_settings
    from .engine.clip_model import ClipScorer, clip_score
    from .engine.generate import run, stream
    from .engine.models import clear_caches, hub_problem, load_pipeline, load_scorer, pick_device
    from .engine.offline_models import TINY_PIPELINE_ID, TINY_SCORER_ID
    from .model_registry import ModelCard, load_models
    from .errors import HubUnreachableError, PlaygroundError
    from .judges.clip import add_clip_scores
    from .schema import COLUMNS, ResultColumn
    from .templates import Template, TemplateSet, fill, load_templates
    from .workflow import (
        Judges, compare, compare_to_folder, evaluate, generate_and_evaluate, rerun_cell, stream_and_evaluate,
        stream_to_folder,
    )
