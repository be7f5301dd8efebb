"""Medical text-to-image prompt playground: compare prompts, guidance and models; judge every image.

The API a notebook uses is the one the Gradio app uses:

    >>> from playground import compare, GuidanceSetting
    >>> result = compare("Graves' disease", ["photo-short", "histopathology-detailed"],
    ...                  [GuidanceSetting(4.0, steps=2), GuidanceSetting(7.5, steps=2)])
    >>> len(result.images), list(result.frame.columns)[:4]

`model_preset(model_id)` gives a model's recommended rows and size (prompt_library/models.yaml);
`compare(..., model_id=[...])` puts up to 4 models side by side. Lower level: `Comparison` + `run`
to generate, `evaluate` with `Judges` to judge (`register_judge` adds one), `load_scorer` +
`add_clip_scores` to score, `load_pipeline` for any diffusers model, `load_templates` for the
prompt library, `Library` for the shared prompt library. Names load on first use (as diffusers' own `__init__` does), so importing the
package, its statistics or its library loads no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS = {
    "Column": "types", "GuidanceSetting": "types", "Comparison": "comparison", "ComparisonResult": "comparison",
    "Preset": "models.registry", "model_preset": "models.registry", "ModelCard": "models.registry",
    "load_models": "models.registry",
    "COLUMNS": "schema", "ResultColumn": "schema",
    "PlaygroundError": "errors", "HubUnreachableError": "errors",
    "Settings": "config", "get_settings": "config", "TINY_PIPELINE_ID": "config", "TINY_SCORER_ID": "config",
    "Template": "catalog.templates", "TemplateSet": "catalog.templates", "fill": "catalog.templates",
    "load_templates": "catalog.templates",
    "compare": "workflow.compare", "compare_to_folder": "workflow.compare", "evaluate": "workflow.compare",
    "generate_and_evaluate": "workflow.compare", "stream_and_evaluate": "workflow.compare",
    "stream_to_folder": "workflow.compare", "rerun_cell": "workflow.compare",
    "Judges": "judges.base", "Context": "judges.base", "register_judge": "judges.base",
    "run": "engine.generate", "stream": "engine.generate",
    "clear_caches": "models.loading", "hub_problem": "models.loading", "load_pipeline": "models.loading",
    "load_scorer": "models.loading", "pick_device": "models.loading",
    "ClipScorer": "models.clip_model", "clip_score": "models.clip_model",
    "add_clip_scores": "judges.clip", "Library": "stores.library",
}

_RENAMED = {"register_judge": "register"}  # public name -> its name in its module
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'playground' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), _RENAMED.get(name, name))
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from .catalog.templates import Template, TemplateSet, fill, load_templates
    from .comparison import Comparison, ComparisonResult
    from .config import TINY_PIPELINE_ID, TINY_SCORER_ID, Settings, get_settings
    from .engine.generate import run, stream
    from .errors import HubUnreachableError, PlaygroundError
    from .judges.base import Context, Judges
    from .judges.base import register as register_judge
    from .judges.clip import add_clip_scores
    from .models.clip_model import ClipScorer, clip_score
    from .models.loading import (
        clear_caches,
        hub_problem,
        load_pipeline,
        load_scorer,
        pick_device,
    )
    from .models.registry import ModelCard, Preset, load_models, model_preset
    from .schema import COLUMNS, ResultColumn
    from .stores.library import Library
    from .types import Column, GuidanceSetting
    from .workflow.compare import (
        compare,
        compare_to_folder,
        evaluate,
        generate_and_evaluate,
        rerun_cell,
        stream_and_evaluate,
        stream_to_folder,
    )
