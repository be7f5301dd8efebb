"""The Compare form's widgets: their layout, and the events that keep them consistent with each
other (a template column follows the subject; a newly chosen model brings its recommended rows
until the table is edited). Widgets are held by the `CompareForm` field name they fill, which is
also their keyword in the `/compare` API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import gradio as gr
import pandas as pd

from .. import samplers
from ..catalog.templates import TemplateSet
from ..models.registry import model_preset
from ..models.runtime import Runtime
from ..render.markdown import code, text
from ..types import MAX_COLUMNS, MAX_MODELS
from ..workflow.form import (
    AUTO,
    DEFAULT_SUBJECT,
    FREE,
    NONE,
    OFF,
    SETTINGS_HEADERS,
    CompareForm,
    column_of,
    is_edited,
    table_of,
)

DEFAULT_TEMPLATES = ["histopathology-short", "histopathology-detailed", OFF, OFF]
DECODER_CHOICES = [("Full: the model's VAE", "full"), ("Fast: its tiny decoder (drafts)", "fast")]
EXAMPLE_SUBJECTS = [DEFAULT_SUBJECT, "lung adenocarcinoma", "melanoma", "the brain"]


def shown_prompt(subject: str, template_id: str, current: str, templates: TemplateSet, filled_for: str = "") -> str:
    """The prompt a column shows: a template filled with the subject (unless the person edited it:
    see `column_of`); free text as typed; nothing when the column is off."""
    column = column_of(template_id, current, subject, templates, filled_for)
    return column.prompt if column else ""


def preset_table(models: Sequence[str]) -> pd.DataFrame:
    """The rows the first chosen model recommends (each model runs its own while unedited)."""
    return table_of(model_preset(models[0]).settings)


def rows_note(models: Sequence[str], edited: bool) -> str:
    """Says whose rows will run: the person's on every model, or each model's own preset."""
    if edited:
        return f"Rows: yours, on {'every model' if len(models) > 1 else text(models[0])}."
    presets = "; ".join(f"{code(m)}: " + ", ".join(s.label for s in model_preset(m).settings) for m in models)
    return f"Rows: each model's recommended setting ({presets}). Edit the table to run your own rows on every model."


@dataclass
class FormWidgets:
    """The form's widgets by field name (`widgets`: what an event passes as `inputs_kwargs`), and
    the helpers around them."""

    widgets: dict[str, gr.components.Component]  # "filled_for": the subject the prompts were last filled for
    rows_note: gr.Markdown  # says whose rows will run
    runtime: Runtime
    generate: gr.Button
    stop: gr.Button
    cost: gr.Markdown  # what Generate will cost (ui/compare_cost.py)
    png: gr.File  # a dropped PNG restores its settings into the form
    png_status: gr.Markdown
    examples: list[gr.Button] = field(default_factory=list)

    def __getitem__(self, name: str) -> gr.components.Component:
        return self.widgets[name]

    @property
    def prompts(self) -> list[gr.components.Component]:
        return [self.widgets[f"prompt_{i}"] for i in range(1, MAX_COLUMNS + 1)]

    def components(self) -> list:
        """Every component `values` may fill: the outputs of an event that restores a form."""
        return [*self.widgets.values(), self.rows_note]

    def values(self, form: CompareForm) -> dict:
        """Widget values for `form`, by component (a Gradio event may return this dict)."""
        values = {self.widgets[name]: value for name, value in form.fields().items()}
        note = f"Rows: those of {text(form.label or 'the restored request')}, on every model chosen."
        return values | {self.rows_note: note}


def judge_choices(runtime: Runtime, prefix: str = "") -> dict[str, gr.components.Component]:
    """The scorer and judge dropdowns (in a row), as Compare offers them; other tabs reuse them
    with an elem_id `prefix` of their own."""
    with gr.Row():
        return {
            "scorer": gr.Dropdown(list(runtime.scorers), value=runtime.scorers[0],
                                  label="General CLIP (scores every image)"),
            "medical_scorer": gr.Dropdown([NONE, *runtime.medical_scorers], value=runtime.medical_scorers[0],
                                          label="Medical CLIP"),
            "domain_scorer": gr.Dropdown(
                [("by each image's modality", AUTO), (NONE, NONE), *[(c, c) for c in runtime.domain_scorers[1:]]],
                value=AUTO, label="Domain CLIP", elem_id=f"{prefix}domain-scorer"),
            "judge": gr.Dropdown([*runtime.judges, NONE], value=(runtime.judges or (NONE,))[0],
                                 label="Checklist judge (a vision-language model)", elem_id=f"{prefix}judge"),
        }


def layout(runtime: Runtime, templates: TemplateSet) -> FormWidgets:
    """The form inside the current Blocks: subject, models, Generate and Stop, the prompt
    columns, and an Advanced section (rows, seeds, size, Prompt S/R, scorers and judges, a PNG
    to restore)."""
    template_choices = [(f"{t.title}", t.id) for t in templates] + [("Free prompt", FREE), ("(off)", OFF)]
    w: dict[str, gr.components.Component] = {}
    with gr.Row(equal_height=True):
        w["subject"] = gr.Textbox(label="Medical subject", value=EXAMPLE_SUBJECTS[0], scale=3, elem_id="subject")
        w["model"] = gr.Dropdown(list(runtime.models), value=[runtime.models[0]], multiselect=True,
                                 max_choices=MAX_MODELS, label=f"Models (up to {MAX_MODELS}, side by side)", scale=2,
                                 elem_id="models")
        with gr.Column(scale=1, min_width=140):
            generate = gr.Button("Generate", variant="primary", elem_id="generate")
            stop = gr.Button("Stop", variant="stop", elem_id="stop", size="sm")
    cost = gr.Markdown(elem_id="cost")  # under Generate: what it will cost (ui/compare_cost.py)
    gr.Markdown("Examples (a click fills the subject):", elem_classes=["pg-examples-label"])
    with gr.Row(elem_classes=["pg-examples"]):
        examples = [gr.Button(s, size="sm", variant="secondary", elem_classes=["example-subject"], min_width=60)
                    for s in EXAMPLE_SUBJECTS]
    with gr.Row():
        for i, template_id in enumerate(DEFAULT_TEMPLATES[:MAX_COLUMNS], start=1):
            with gr.Column(min_width=180):
                w[f"template_{i}"] = gr.Dropdown(template_choices, value=template_id, label=f"Column {i} template")
                w[f"prompt_{i}"] = gr.Textbox(value=shown_prompt(EXAMPLE_SUBJECTS[0], template_id, "", templates),
                                              label=f"Column {i} prompt (editable)", lines=2)
    default_rows = preset_table(runtime.models[:1])
    note = gr.Markdown(rows_note(runtime.models[:1], edited=False), elem_id="rows-note")
    with gr.Accordion("Advanced: guidance rows, seeds, size, decoder, Prompt S/R, scorers and judges", open=False,
                      elem_id="advanced"):
        w["settings"] = gr.Dataframe(
            value=default_rows, headers=SETTINGS_HEADERS, datatype=["number", "number", "str", "str", "number"],
            label=f"Guidance rows, one row each (samplers: {', '.join(samplers.names())})", interactive=True,
            elem_id="settings",
        )
        with gr.Row():
            w["images_per_cell"] = gr.Slider(1, 4, value=2, step=1, label="Images per cell (seeds)")
            w["seed"] = gr.Number(value=0, precision=0, label="Base seed")
            w["width"] = gr.Number(value=0, precision=0, label="Width (0 = the model's)")
            w["height"] = gr.Number(value=0, precision=0, label="Height (0 = the model's)")
        with gr.Row():
            w["decoder"] = gr.Radio(DECODER_CHOICES, value="full", elem_id="decoder",
                                    label="Decoder (a draft is decoded fast, then in full on demand)")
            w["guidance_decoder"] = gr.Radio(DECODER_CHOICES, value="full", elem_id="guidance-decoder",
                                             label="CLIP guidance's gradient goes through")
        w["prompt_sr"] = gr.Textbox(label="Prompt S/R: word, replacement, ... (column 1's prompt, one column per term, "
                                    "instead of columns 2-4)", value="",
                                    placeholder="H&E, immunohistochemistry, Masson's trichrome", elem_id="prompt-sr")
        w["subgroups"] = gr.Checkbox(False, label="Patient subgroups: column 1's prompt once per subgroup of its "
                                     "modality (skin type, or age and sex: demographics.yaml), instead of columns 2-4",
                                     elem_id="subgroups")
        w |= judge_choices(runtime)
        png = gr.File(label="Drop a PNG here to restore its settings", file_types=[".png"], height=140,
                      elem_id="restore-png")
        png_status = gr.Markdown(elem_id="restore-status")
    w["preset"], w["filled_for"] = gr.State(default_rows), gr.State(EXAMPLE_SUBJECTS[0])
    return FormWidgets(w, note, runtime, generate, stop, cost, png, png_status, examples)


def sync_prompts(form: FormWidgets, templates: TemplateSet, trigger) -> object:
    """An event on `trigger` (an event listener, e.g. `button.click`) that brings the template
    columns' prompts up to date with the subject (typing or a paste may not have sent its event yet)."""
    templates_and_prompts = [form[f"{kind}_{i}"] for i in range(1, MAX_COLUMNS + 1) for kind in ("template", "prompt")]

    def sync(subject: str, filled_for: str, *values: str) -> list[str]:
        prompts = [shown_prompt(subject, t, p, templates, filled_for) for t, p in zip(values[::2], values[1::2])]
        return [*prompts, subject]

    return trigger(sync, [form["subject"], form["filled_for"], *templates_and_prompts],
                   [*form.prompts, form["filled_for"]], show_progress="hidden", api_name=False)


def wire(form: FormWidgets, templates: TemplateSet) -> None:
    """The events that keep the form consistent: prompts follow the subject and their template;
    the rows follow the chosen models until the table is edited; an example fills the subject."""

    def follow_models(models: list[str], table: pd.DataFrame, preset: pd.DataFrame | None):
        """A newly chosen model brings its recommended rows, unless the person edited the table."""
        if not models:  # between removing one model and choosing another
            return table, preset, "Choose at least one model."
        if is_edited(table, preset):
            return table, preset, rows_note(models, edited=True)
        rows = preset_table(models)
        return rows, rows, rows_note(models, edited=False)

    sync_prompts(form, templates, lambda *a, **k: form["subject"].input(*a, **k, trigger_mode="always_last"))
    for i in range(1, MAX_COLUMNS + 1):
        choice, prompt = form[f"template_{i}"], form[f"prompt_{i}"]
        choice.change(lambda s, t, p: shown_prompt(s, t, p if t == FREE else "", templates),
                      [form["subject"], choice, prompt], prompt, show_progress="hidden", api_name=False)
    form["model"].change(follow_models, [form["model"], form["settings"], form["preset"]],
                         [form["settings"], form["preset"], form.rows_note], show_progress="hidden", api_name=False)
    form["settings"].input(
        lambda models, table, preset: rows_note(models or form.runtime.models[:1], is_edited(table, preset)),
        [form["model"], form["settings"], form["preset"]], form.rows_note, show_progress="hidden", api_name=False)
    for button, example in zip(form.examples, EXAMPLE_SUBJECTS):
        sync_prompts(form, templates, button.click(lambda example=example: example, None, form["subject"],
                                                   api_name=False).then)
