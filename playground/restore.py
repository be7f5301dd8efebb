"""What the Compare tab can be filled with, as one value: a library record, a confusion case, ...

A `CompareRequest` holds every input of the tab by name. The library, the Educators tab and a
dropped PNG (the playground's own or AUTOMATIC1111's) build one here, without Gradio; the tab turns it into widget values in one
keyword method (`ui.compare.CompareInputs.restore`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from . import model_registry
from .comparison import Column, GuidanceSetting, cell_negative_prompt, model_preset
from .curated import Confusion
from .engine import schedulers
from .errors import PlaygroundError
from .export import parse_parameters
from .templates import TemplateSet

FREE = "free"  # a column whose prompt is typed, not filled from a template
REPRODUCE_STEPS = 20  # A1111's default, for a PNG that does not say
OFF = "off"  # an unused column
CLIP_GUIDANCE = 100.0


@dataclass(frozen=True)
class CompareRequest:
    """Every input of the Compare tab. `columns` pairs a template id (or FREE) with its prompt;
    `model` None keeps the model chosen on the page; width and height 0 mean the model's own."""

    subject: str
    columns: tuple[tuple[str, str], ...]
    settings: tuple[GuidanceSetting, ...]
    model: str | None = None
    images_per_cell: int = 2
    seed: int = 0
    width: int = 0
    height: int = 0
    label: str = field(default="", compare=False)  # what was restored, for a message


def from_record(record: Mapping, templates: TemplateSet) -> CompareRequest:
    """The request that regenerates a library record's image.

    The record's template is kept when the template's negative prompt and the record's own
    setting negative prompt join to what was sent; otherwise (a changed template, a record from
    before settings kept their own negative prompt) the column becomes a free prompt and the whole
    negative prompt the setting's, which draws the same image.
    """
    scheduler = record["scheduler"] if record["scheduler"] in schedulers.names() else schedulers.DEFAULT
    setting = GuidanceSetting(float(record["guidance_scale"]), int(record["steps"]), scheduler,
                              record.get("setting_negative_prompt") or "", float(record["clip_guidance_scale"] or 0))
    template_id = record["template_id"]
    if template_id in templates.templates:
        column = templates[template_id].column(record["subject"], record["prompt"])
        if cell_negative_prompt(column, setting) != record["negative_prompt"]:
            template_id = FREE
    else:
        template_id = FREE
    if template_id == FREE:
        setting = replace(setting, negative_prompt=record["negative_prompt"])
    return CompareRequest(
        record["subject"], ((template_id, record["prompt"]),), (setting,), record["model_id"], 1, int(record["seed"]),
        int(record["width"]), int(record["height"]), label=f"record #{record.get('id', '?')}",
    )


def from_parameters(text: str, templates: TemplateSet, offered: Sequence[str]) -> CompareRequest:
    """The request that redraws a PNG's image from its ``parameters`` text: one the playground
    wrote, or AUTOMATIC1111's PNG Info (prompt, negative prompt, steps, sampler, CFG, seed, size,
    model). A model not offered here (A1111 names a checkpoint file) leaves the page's model."""
    found = parse_parameters(text)
    if not found["prompt"].strip():
        raise PlaygroundError("This PNG carries no generation parameters (no prompt in its 'parameters' text).")
    width, _, height = str(found.get("Size", "0x0")).partition("x")
    sampler = found.get("Sampler", schedulers.DEFAULT)
    if found.get("Schedule type") == "Karras" and f"{sampler} Karras" in schedulers.names():
        sampler = f"{sampler} Karras"  # newer A1111 writes the schedule on its own
    model = found.get("Model", "")
    record = {
        "subject": found.get("Subject") or found["prompt"], "prompt": found["prompt"],
        "negative_prompt": found["negative_prompt"], "template_id": found.get("Template", FREE),
        "scheduler": sampler, "steps": _whole(found.get("Steps", REPRODUCE_STEPS), "Steps"),
        "guidance_scale": _number(found.get("CFG scale", 7.5), "CFG scale"),
        "clip_guidance_scale": _number(found.get("CLIP guidance", 0), "CLIP guidance"),
        "seed": _whole(found.get("Seed", 0), "Seed"), "width": _whole(width or 0, "Size"),
        "height": _whole(height or 0, "Size"), "model_id": model if model in offered else None, "id": "from a PNG",
    }
    request = from_record(record, templates)
    return replace(request, label="the dropped PNG" + (f" (made with {model!r}, not offered here)" if model and
                                                         model not in offered else ""))


def _number(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise PlaygroundError(f"The PNG's {name} is not a number: {value!r}.") from None


def _whole(value: str, name: str) -> int:
    number = _number(value, name)
    if number != int(number):
        raise PlaygroundError(f"The PNG's {name} is not a whole number: {value!r}.")
    return int(number)


def from_confusion(case: Confusion, templates: TemplateSet, model_id: str) -> CompareRequest:
    """A confusion case as short vs detailed prompt (columns) x the model's first preset row,
    without and (where the model supports it) with CLIP guidance (rows), on the page's model."""
    columns = tuple(
        (t.id, t.fill(case.subject)) for t in (templates.for_modality(case.modality, v) for v in ("short", "detailed"))
    )
    base = model_preset(model_id).settings[0]
    model = model_registry.capabilities(model_id)
    guided = () if model is not None and not model.clip_guidance else (replace(base, clip_guidance_scale=CLIP_GUIDANCE),)
    return CompareRequest(case.subject, columns, (base, *guided), label=f"confusion case {case.id}")


def column_of(template_id: str, prompt: str, subject: str, templates: TemplateSet) -> Column | None:
    """The grid column a tab column stands for (None when it is off)."""
    if template_id == OFF:
        return None
    if template_id == FREE:
        return Column(prompt or "")
    return templates[template_id].column(subject, prompt or "")
