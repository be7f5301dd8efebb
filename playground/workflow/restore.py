"""What fills the Compare form: a library record, a dropped PNG (the playground's own or
AUTOMATIC1111's), a confusion case. Each becomes a `CompareForm`, without Gradio; the tab turns
it into widget values with `CompareForm.fields`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from .. import samplers
from ..catalog.curated import Confusion
from ..catalog.templates import TemplateSet
from ..errors import PlaygroundError
from ..models import registry as model_registry
from ..models.registry import model_preset
from ..render.export import parse_parameters
from ..types import MIN_CLIP_GUIDED_STEPS, GuidanceSetting, cell_negative_prompt
from .form import FREE, CompareForm

REPRODUCE_STEPS = 20  # A1111's default, for a PNG that does not say
CLIP_GUIDANCE = 100.0


def from_record(record: Mapping, templates: TemplateSet) -> CompareForm:
    """The request that regenerates a library record's image.

    The record's template is kept when the template's negative prompt and the record's own
    setting negative prompt join to what was sent; otherwise (a changed template, a record from
    before settings kept their own negative prompt) the column becomes a free prompt and the whole
    negative prompt the setting's, which draws the same image.
    """
    scheduler = record["scheduler"] if record["scheduler"] in samplers.names() else samplers.DEFAULT
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
    return CompareForm(
        record["subject"], ((template_id, record["prompt"]),), (setting,), (record["model_id"],) if record["model_id"] else (),
        1, int(record["seed"]), int(record["width"]), int(record["height"]), label=f"record #{record.get('id', '?')}",
    )


def from_parameters(text: str, templates: TemplateSet, offered: Sequence[str]) -> CompareForm:
    """The request that redraws a PNG's image from its ``parameters`` text: one the playground
    wrote, or AUTOMATIC1111's PNG Info (prompt, negative prompt, steps, sampler, CFG, seed, size,
    model). A model not offered here (A1111 names a checkpoint file) leaves the page's model."""
    found = parse_parameters(text)
    if not found["prompt"].strip():
        raise PlaygroundError("This PNG carries no generation parameters (no prompt in its 'parameters' text).")
    width, _, height = str(found.get("Size", "0x0")).partition("x")
    sampler = found.get("Sampler", samplers.DEFAULT)
    if found.get("Schedule type") == "Karras" and f"{sampler} Karras" in samplers.names():
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


def from_confusion(case: Confusion, templates: TemplateSet, model_id: str) -> CompareForm:
    """A confusion case as short vs detailed prompt (columns) x the model's first preset row,
    without and (where the model supports it) with CLIP guidance (rows), on the page's model."""
    columns = tuple(
        (t.id, t.fill(case.subject)) for t in (templates.for_modality(case.modality, v) for v in ("short", "detailed"))
    )
    base = model_preset(model_id).settings[0]
    model = model_registry.capabilities(model_id)
    guided = () if model is not None and not model.clip_guidance else (
        replace(base, clip_guidance_scale=CLIP_GUIDANCE, steps=max(base.steps, MIN_CLIP_GUIDED_STEPS)),)
    return CompareForm(case.subject, columns, (base, *guided), label=f"confusion case {case.id}")
