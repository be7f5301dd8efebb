"""The Compare form as one value: every input of the Compare tab by name, without Gradio.

`CompareForm.from_fields` reads the tab's widgets (or an API caller's keywords: the same names,
see README "The /compare endpoint") into a checked form; `fields` gives widget values back (what
"Open in Compare" and a dropped PNG fill in). `resolve` turns a form into the `Comparison` and
the `Judges` it asks for, checking that every model, scorer and judge is offered here: the one
place that check is made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import pandas as pd

from .. import limits, samplers
from ..catalog.templates import TemplateSet
from ..comparison import Comparison
from ..config import get_settings
from ..errors import PlaygroundError
from ..judges.base import AUTO, Judges
from ..models.runtime import Runtime
from ..types import MAX_COLUMNS, MAX_MODELS, Column, GuidanceSetting
from . import prompt_sr as prompt_sr_axis
from . import subgroups as subgroups_axis

FREE = "free"  # a column whose prompt is typed, not filled from a template
OFF = "off"  # an unused column
NONE = "none"  # no medical CLIP, no domain CLIP, no checklist judge
DEFAULT_SUBJECT = "Graves' disease"  # the page's first subject: its prompts are the form's defaults
SETTINGS_HEADERS = ["guidance_scale", "steps", "scheduler", "negative_prompt", "clip_guidance_scale"]  # GuidanceSetting's fields


@dataclass(frozen=True)
class CompareForm:
    """Every input of the Compare tab. `columns` pairs a template id (or FREE, OFF) with its
    prompt; `settings` None runs each model's recommended rows; `models` empty keeps the page's
    choice; width and height 0 mean the model's own; `scorer` '' is the first offered."""

    subject: str = ""
    columns: tuple[tuple[str, str], ...] = ()
    settings: tuple[GuidanceSetting, ...] | None = None
    models: tuple[str, ...] = ()
    images_per_cell: int = 2
    seed: int = 0
    width: int = 0
    height: int = 0
    prompt_sr: str = ""
    subgroups: bool = False  # column 1 once per patient subgroup of its modality (demographics.yaml)
    scorer: str = ""
    medical_scorer: str = NONE
    domain_scorer: str = AUTO
    judge: str = NONE
    decoder: str = "full"  # "fast": drafts, decoded by each model's tiny decoder
    guidance_decoder: str = "full"  # what CLIP guidance's gradient goes through
    filled_for: str = ""  # the subject the template columns' prompts were filled for (the page's last subject)
    label: str = field(default="", compare=False)  # what filled the form, for a message

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> CompareForm:
        """A form from the tab's widget values by name (template_1, prompt_1, ..., settings as the
        table, preset as the table last filled from a model's preset)."""
        numbers = {name: _whole(fields.get(name, default), label)
                   for name, label, default in (("images_per_cell", "Images per cell", 2), ("seed", "Seed", 0),
                                                ("width", "Width", 0), ("height", "Height", 0))}
        columns = tuple((str(fields.get(f"template_{i}") or OFF), str(fields.get(f"prompt_{i}") or ""))
                        for i in range(1, MAX_COLUMNS + 1))
        table = fields.get("settings")
        settings = None if table is None or not is_edited(table, fields.get("preset")) else tuple(parse_settings(table))
        return cls(subject=str(fields.get("subject") or ""), columns=columns, settings=settings,
                   models=tuple(chosen_models(fields.get("model"))), prompt_sr=str(fields.get("prompt_sr") or ""),
                   subgroups=bool(fields.get("subgroups")),
                   scorer=str(fields.get("scorer") or ""), medical_scorer=str(fields.get("medical_scorer") or NONE),
                   domain_scorer=str(fields.get("domain_scorer") or AUTO), judge=str(fields.get("judge") or NONE),
                   decoder=str(fields.get("decoder") or "full"),
                   guidance_decoder=str(fields.get("guidance_decoder") or "full"), filled_for=str(fields.get("filled_for") or ""), **numbers)

    def fields(self) -> dict[str, object]:
        """Widget values by name for this form (the model only when the form names one, the rows
        only when it has its own)."""
        columns = [*self.columns, *[(OFF, "")] * (MAX_COLUMNS - len(self.columns))]
        values: dict[str, object] = {"subject": self.subject, "images_per_cell": self.images_per_cell, "seed": self.seed,
                                     "width": self.width, "height": self.height, "prompt_sr": self.prompt_sr,
                                     "subgroups": self.subgroups,
                                     "decoder": self.decoder, "guidance_decoder": self.guidance_decoder,
                                     "filled_for": self.filled_for or self.subject}
        if self.settings is not None:  # restored rows run as they are, on whichever model is chosen
            values |= {"settings": table_of(self.settings), "preset": None}
        for i, (template_id, prompt) in enumerate(columns, start=1):
            values |= {f"template_{i}": template_id, f"prompt_{i}": prompt}
        return values | ({"model": list(self.models)} if self.models else {})

    def judges(self, runtime: Runtime) -> Judges:
        """The panel this form asks for; a scorer or judge not offered here is refused."""
        scorer = self.scorer or runtime.scorers[0]
        offered = {"CLIP scorer": (scorer, runtime.scorers),
                   "Medical CLIP scorer": (self.medical_scorer, (NONE, *runtime.medical_scorers)),
                   "Domain CLIP scorer": (self.domain_scorer, (NONE, *runtime.domain_scorers)),
                   "Checklist judge": (self.judge, (NONE, *runtime.judges))}
        for what, (value, allowed) in offered.items():
            if value not in allowed:
                raise PlaygroundError(f"{what} {value!r} is not offered here; choose one of: {', '.join(allowed)}.")
        off = lambda value: None if value == NONE else value
        return Judges(scorer, off(self.medical_scorer), off(self.domain_scorer), off(self.judge))

    def resolve(self, templates: TemplateSet, runtime: Runtime) -> tuple[Comparison, Judges]:
        """The checked `Comparison` and `Judges` this form asks for."""
        judges = self.judges(runtime)
        models = list(self.models or runtime.models[:1])
        for name in models:
            if name not in runtime.models and not get_settings().allow_any_model:
                raise PlaygroundError(f"Model {name!r} is not offered here; choose from: {', '.join(runtime.models)}.")
        columns = [c for c in (column_of(t, p, self.subject, templates, self.filled_for) for t, p in self.columns) if c]
        if self.prompt_sr.strip():
            if not columns:
                raise PlaygroundError("Prompt S/R varies column 1's prompt: fill column 1 first.")
            columns = prompt_sr_axis.expand(columns[0], self.prompt_sr)
        if self.subgroups:
            if not columns or self.prompt_sr.strip():
                raise PlaygroundError("Patient subgroups make one column per subgroup of column 1's prompt: fill column 1 "
                                      "with a template, and leave Prompt S/R empty (one column axis at a time).")
            columns = subgroups_axis.expand(columns[0], self.subject)
        comparison = Comparison(
            subject=self.subject, columns=columns, settings=self.settings, images_per_cell=self.images_per_cell,
            base_seed=self.seed, model_id=models[0] if len(models) == 1 else models, guidance_scorer_id=judges.scorer_id,
            width=self.width or None, height=self.height or None, decoder=self.decoder,
            guidance_decoder=self.guidance_decoder,
        )
        comparison.check_inputs()
        comparison.check_work()  # a request to the app: one request's work is capped
        return comparison, judges

    def notes(self, templates: TemplateSet) -> list[str]:
        """What the person should know before the grid is drawn: a free prompt that does not
        mention the subject (allowed, but its images are scored against the subject too)."""
        subject = self.subject.strip().lower()
        return [f"Column {i}'s free prompt does not mention the subject \u201c{self.subject.strip()}\u201d."
                for i, (template_id, prompt) in enumerate(self.columns, start=1)
                if template_id == FREE and subject and subject not in prompt.lower()]


def _whole(value: object, name: str) -> int:
    if not limits.is_whole(value):
        raise PlaygroundError(f"{name} must be a whole number, got {value}.")
    return int(value)


def chosen_models(model: Sequence[str] | str | None) -> list[str]:
    """The model dropdown's value as a list (an API caller may name a single model)."""
    models = [model] if isinstance(model, str) else list(model or [])
    if len(models) > MAX_MODELS:
        raise PlaygroundError(f"Choose at most {MAX_MODELS} models, got {len(models)}.")
    return models


def column_of(template_id: str, prompt: str, subject: str, templates: TemplateSet, filled_for: str = "") -> Column | None:
    """The grid column a tab column stands for (None when it is off). A template column holds the
    template filled with `subject`, unless its prompt was edited: a prompt that is empty, or is the
    template filled for `filled_for` (the subject the page last filled it for) or for the page's
    first subject (an API caller who names only a subject sends those defaults, whatever the
    session's `filled_for` became), is filled again for this subject."""
    if template_id == OFF:
        return None
    if template_id == FREE:
        return Column(prompt or "")
    template = templates[template_id]
    prompt = (prompt or "").strip()
    unedited = not prompt or any(prompt == template.fill(s) for s in {filled_for, DEFAULT_SUBJECT} if s.strip())
    if unedited and subject.strip():
        return template.column(subject)
    return template.column(subject, prompt or template.text)  # edited; or no subject, which the comparison refuses


def table_of(settings: Sequence[GuidanceSetting]) -> pd.DataFrame:
    """The settings table showing `settings`, one row each."""
    return pd.DataFrame([asdict(s) for s in settings], columns=SETTINGS_HEADERS)


def is_edited(table: pd.DataFrame | Mapping | list, preset: pd.DataFrame | Mapping | list | None) -> bool:
    """Whether the settings table differs from the preset it was last filled with."""
    if preset is None:
        return True
    try:
        return parse_settings(table) != parse_settings(preset)
    except PlaygroundError:
        return True


def _frame(table: pd.DataFrame | Mapping | list) -> pd.DataFrame:
    """The table as a frame: a DataFrame, a list of rows, or an API caller's {"headers", "data"}."""
    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, Mapping):
        return pd.DataFrame(table.get("data") or [], columns=table.get("headers"))
    return pd.DataFrame(table)


def parse_settings(table: pd.DataFrame | Mapping | list) -> list[GuidanceSetting]:
    """Guidance rows from the settings table; blank rows are skipped, bad cells named."""
    frame = _frame(table).reindex(columns=SETTINGS_HEADERS)  # an API caller may leave clip_guidance_scale out
    settings = []
    for number, row in enumerate(frame.itertuples(index=False), start=1):
        values = dict(zip(SETTINGS_HEADERS, row))
        if all(str(v).strip() in ("", "nan", "None") for v in values.values()):
            continue
        clip_guidance = values.get("clip_guidance_scale")
        try:
            guidance, steps = float(values["guidance_scale"]), float(values["steps"])
            clip_guidance = 0.0 if clip_guidance in (None, "") or pd.isna(clip_guidance) else float(clip_guidance)
        except (TypeError, ValueError):
            raise PlaygroundError(
                f"Settings row {number}: guidance_scale, steps and clip_guidance_scale must be numbers."
            ) from None
        if not math.isfinite(steps) or steps != int(steps):
            raise PlaygroundError(f"Settings row {number}: steps must be a whole number, got {steps:g}.")
        scheduler = str(values["scheduler"] or samplers.DEFAULT).strip()
        negative = "" if pd.isna(values["negative_prompt"]) else str(values["negative_prompt"])
        settings.append(GuidanceSetting(guidance, int(steps), scheduler, negative, clip_guidance))
    if not settings:
        raise PlaygroundError("Add at least one guidance setting row.")
    return settings
