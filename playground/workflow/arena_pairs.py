"""Drawing the Arena's blind pairs: two images of one subject, seed and setting that differ only
in their prompt template (or only in their model), in random order.

The subject comes from subjects.yaml, the templates from one modality, the setting is the
model's first recommended row; the images go through the disk image cache like any other, and
are saved with their parameters under PLAYGROUND_HOME/arena, outside the served folder, so a vote
can point at them (preference data). A voter is sent `shown(pair)`: copies of the pixels alone
under opaque names, as a study's raters are (playground.blinding), so no file names a template.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from pathlib import Path

from ..blinding import opaque, pixel_copy, secret_key
from ..catalog.curated import Curated
from ..catalog.templates import TemplateSet
from ..comparison import Comparison
from ..config import get_settings
from ..engine.generate import ProgressFn, run
from ..errors import PlaygroundError
from ..models.registry import model_preset
from ..render.export import save_images
from ..stores.arena_votes import KINDS, Pair
from ..types import MAX_SEED

SEEDS = 10_000  # seeds are drawn from 0..SEEDS-1, so a pair is easy to redraw by hand


def modalities(templates: TemplateSet) -> list[str]:
    """Modalities with at least two templates: the ones a template pair can be drawn in."""
    counts: dict[str, int] = {}
    for template in templates:
        counts[template.modality] = counts.get(template.modality, 0) + 1
    return [m for m, n in counts.items() if n >= 2]


def check_draw(modality: str, models: Sequence[str], templates: TemplateSet, kind: str) -> list:
    """The templates a pair of `kind` in `modality` is drawn from; a pair that cannot be drawn is
    refused in a sentence before any image is (the Arena tab checks this before it draws)."""
    if kind not in KINDS:
        raise PlaygroundError(f"The Arena compares templates or models, not {kind!r}.")
    choices = [t for t in templates if t.modality == modality]
    if kind == "template" and len(choices) < 2:
        raise PlaygroundError(f"The Arena needs two templates of {modality!r}; choose one of: "
                              f"{', '.join(modalities(templates))}.")
    if kind == "model" and len(set(models)) < 2:
        raise PlaygroundError("To compare models in the Arena, choose two or more models in Compare first.")
    if not choices:
        raise PlaygroundError(f"No template of modality {modality!r}.")
    return choices


def draw_pair(
    modality: str, models: Sequence[str], templates: TemplateSet, curated: Curated, kind: str = "template",
    rng: random.Random | None = None, folder: Path | None = None, progress: ProgressFn | None = None,
) -> Pair:
    """A blind pair in `modality`: two templates on `models[0]` ("template"), or one template
    on two of `models` ("model"), same subject, seed and setting."""
    rng = rng or random.Random()
    choices = check_draw(modality, models, templates, kind)
    subject = rng.choice(curated.subjects).subject
    seed = rng.randrange(min(SEEDS, MAX_SEED))
    if kind == "template":
        left, right = rng.sample(choices, 2)
        contestants, model_ids = (left.id, right.id), (models[0], models[0])
        columns = [left.column(subject), right.column(subject)]
    else:
        template = rng.choice(choices)
        model_ids = tuple(rng.sample(list(dict.fromkeys(models)), 2))
        contestants, columns = model_ids, [template.column(subject)]
    paths, prompts, setting = _draw(subject, columns, model_ids, seed, folder, progress)
    return Pair(kind, modality, subject, model_ids[0] if kind == "template" else "", setting, seed, *contestants,
                *prompts, *(str(p) for p in paths))


def _draw(subject: str, columns: list, model_ids: tuple[str, str], seed: int, folder: Path | None,
          progress: ProgressFn | None) -> tuple[list[Path], list[str], str]:
    """Draw the two images (two columns on one model, or one column on two models, each at its
    first recommended row); their saved paths, prompts and the setting's label."""
    folder = folder or get_settings().arena_dir
    prefix = f"{uuid.uuid4().hex[:10]}-"
    paths, prompts, labels = [], [], []
    for model_id in dict.fromkeys(model_ids):
        setting = model_preset(model_id).settings[0]
        result = run(Comparison(subject, columns, [setting], images_per_cell=1, base_seed=seed, model_id=model_id),
                     progress)
        paths += save_images(result.frame, result.images, folder, prefix + f"{len(paths)}-")
        prompts += list(result.frame["prompt"])
        labels.append(setting.label)
    return paths, prompts, " / ".join(dict.fromkeys(labels))


def shown(pair: Pair) -> tuple[Path, Path]:
    """What a voter is sent of `pair`: pixel-only copies of its two images in the served folder,
    named by an HMAC of each original's path under a key kept beside the originals."""
    settings = get_settings()
    key = secret_key(settings.arena_dir)
    left, right = (pixel_copy(Path(image), settings.blind_dir / "arena" / f"{opaque(key, image)}.png")
                   for image in (pair.left_image, pair.right_image))
    return left, right
