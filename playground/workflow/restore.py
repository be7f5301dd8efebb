"""What fills the Compare form: a library record, a dropped PNG (the playground's own or
AUTOMATIC1111's), a confusion case. Each becomes a `CompareForm`, without Gradio; the tab turns
it into widget values with `CompareForm.fields`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from .. import limits, samplers
from ..catalog.curated import Confusion
from ..catalog.templates import TemplateSet
from ..config import get_settings
from ..errors import PlaygroundError
from ..models import registry as model_registry
from ..models.registry import model_preset
from ..render.export import parse_parameters
from ..types import (
    MAX_CLIP_GUIDANCE,
    MAX_GUIDANCE,
    MAX_SEED,
    MIN_CLIP_GUIDED_STEPS,
    GuidanceSetting,
    cell_negative_prompt,
)
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
    model). A model not offered here (A1111 names a checkpoint file) leaves the page's model.

    The text is the visitor's: every number is held to the range a comparison accepts and every
    text to the prompt limit, each with a sentence, before anything reaches the page."""
    found = parse_parameters(text)
    if not found["prompt"].strip():
        raise PlaygroundError("This PNG carries no generation parameters (no prompt in its 'parameters' text).")
    chars = get_settings().max_prompt_chars
    prompt, negative, subject = (limits.text(value, f"The PNG's {what}", chars) for value, what in (
        (found["prompt"], "prompt"), (found["negative_prompt"], "negative prompt"),
        (found.get("Subject") or found["prompt"], "subject")))
    sampler = found.get("Sampler", samplers.DEFAULT)
    if found.get("Schedule type") == "Karras" and f"{sampler} Karras" in samplers.names():
        sampler = f"{sampler} Karras"  # newer A1111 writes the schedule on its own
    model = found.get("Model", "")
    record = {
        "subject": subject, "prompt": prompt, "negative_prompt": negative, "template_id": found.get("Template", FREE),
        "scheduler": sampler, **_numbers(found), "model_id": model if model in offered else None, "id": "from a PNG",
    }
    request = from_record(record, templates)
    return replace(request, label="the dropped PNG" + (f" (made with {limits.shown(model)}, not offered here)"
                                                        if model and model not in offered else ""))


def _numbers(found: Mapping[str, str]) -> dict[str, float | int]:
    """The PNG's numbers (A1111's defaults where it does not say), each held to what a comparison
    accepts: NaN, infinity, 1e300 and negative seeds get a sentence, as typed ones do."""
    config = get_settings()
    width, height = _size(found.get("Size"), config.max_size)
    return {
        "steps": limits.whole_number(_number(found.get("Steps", REPRODUCE_STEPS), "Steps"), "The PNG's Steps", 1,
                                     config.max_steps),
        "guidance_scale": limits.number(_number(found.get("CFG scale", 7.5), "CFG scale"), "The PNG's CFG scale", 0,
                                        MAX_GUIDANCE),
        "clip_guidance_scale": limits.number(_number(found.get("CLIP guidance", 0), "CLIP guidance"),
                                             "The PNG's CLIP guidance", 0, MAX_CLIP_GUIDANCE),
        "seed": limits.whole_number(_number(found.get("Seed", 0), "Seed"), "The PNG's Seed", 0, MAX_SEED),
        "width": width, "height": height,
    }


def _size(size: str | None, most: int) -> tuple[int, int]:
    """A PNG's ``Size`` (WIDTHxHEIGHT) as two whole numbers in 64..`most`; (0, 0), the model's
    own size, when the PNG does not say."""
    if size is None:
        return 0, 0
    width, x, height = size.partition("x")
    if not x:
        raise PlaygroundError(f"The PNG's Size must be WIDTHxHEIGHT, such as 512x768; got {limits.shown(size)}.")
    return (limits.whole_number(_number(width, "Size"), "The PNG's width", 64, most),
            limits.whole_number(_number(height, "Size"), "The PNG's height", 64, most))


def _number(value: object, name: str) -> float | int:
    """A number written in a PNG's text ("20", "7.5", "nan", "1e300"); a whole one as an int, so a
    sentence about it reads "got 150", not "got 150.0"."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except ValueError:
        raise PlaygroundError(f"The PNG's {name} must be a number, got {limits.shown(value)}.") from None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


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
