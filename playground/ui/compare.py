"""The Compare tab: one subject through up to 4 prompts x 4 guidance settings x 4 models, same seeds.

Handlers are thin: they turn widget values into a `Comparison`, stream it through
`workflow.stream_to_folder`, and lay out each batch as it comes (the labelled grid is
`grid_view`'s HTML). Every event has an `api_name`. The grid's columns are prompts (or Prompt S/R
terms); its rows are model x guidance setting. The settings table shows the chosen
model's recommended rows (`model_preset`) until the user edits it: unedited, every model runs its
own preset; edited, the table's rows run on every model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from .. import limits, schema
from .. import prompt_sr as prompt_sr_axis
from ..comparison import MAX_COLUMNS, MAX_MODELS, Comparison, ComparisonResult, GuidanceSetting, model_preset
from ..config import get_settings
from ..curated import Curated
from ..engine import schedulers
from ..errors import PlaygroundError
from ..stores.library import prefer as prefer_row
from ..export import read_parameters
from ..restore import FREE, OFF, CompareRequest, column_of, from_parameters
from ..startup import Runtime
from ..templates import TemplateSet
from ..judges.confusion import confusion_warnings
from ..judges.domain import AUTO
from ..scorer_registry import load_scorers
from ..grid import detail_lines
from ..workflow import GRID_FILE, Judges, images_of, mean_scores, rerun_cell, stream_to_folder
from . import grid_view, refine_panel, search_panel
from .common import on_gpu, text, user_errors

NO_SCORER = "none"
SETTINGS_HEADERS = ["guidance_scale", "steps", "scheduler", "negative_prompt", "clip_guidance_scale"]  # GuidanceSetting's fields
DEFAULT_TEMPLATES = ["histopathology-short", "histopathology-detailed", OFF, OFF]
EXAMPLE_SUBJECTS = ["Graves' disease", "lung adenocarcinoma", "melanoma", "the brain"]
TABLE_KEYS = ["column", "row", "model_id", "template_id", "setting", "seed"]
WHO_JUDGED = ["domain_scorer", "judge_id", "finding", "finding_model"]  # which judge gave the scores beside them  # then every judged column, then the marks


def results_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The Results table: where each image sits, every judge's verdict, the marks and the prompt."""
    who = [name for name in WHO_JUDGED if name in frame]
    columns = [*TABLE_KEYS, *(c.name for c in schema.judged(frame)), *who, *schema.of_step("rank"), "prompt"]
    return frame[columns].dropna(axis=1, how="all").round(2)


def fill_prompt(subject: str, template_id: str, current: str, templates: TemplateSet) -> str:
    """The prompt a column shows: its template filled with the subject; free text stays as typed."""
    if template_id == OFF:
        return ""
    if template_id == FREE:
        return current
    return templates[template_id].fill(subject) if subject.strip() else templates[template_id].text


def sync_prompt(subject: str, filled_for: str, template_id: str, current: str, templates: TemplateSet) -> str:
    """Refill a template column for a new subject unless the user edited its prompt.

    A prompt counts as unedited when it is the template filled with `filled_for`, the subject it
    was last filled for; edits survive a change of subject.
    """
    if template_id in (OFF, FREE):
        return fill_prompt(subject, template_id, current, templates)
    unedited = not current.strip() or current == fill_prompt(filled_for, template_id, "", templates)
    return fill_prompt(subject, template_id, current, templates) if unedited else current


def table_of(settings: Sequence[GuidanceSetting]) -> pd.DataFrame:
    """The settings table showing `settings`, one row each."""
    return pd.DataFrame([asdict(s) for s in settings], columns=SETTINGS_HEADERS)


def preset_table(models: Sequence[str]) -> pd.DataFrame:
    """The rows the first chosen model recommends (each model runs its own while unedited)."""
    return table_of(model_preset(models[0]).settings)


def rows_note(models: Sequence[str], edited: bool) -> str:
    """Says whose rows will run: the user's on every model, or each model's own preset."""
    if edited:
        return f"Rows: yours, on {'every model' if len(models) > 1 else text(models[0])}."
    presets = "; ".join(f"`{text(m)}`: " + ", ".join(s.label for s in model_preset(m).settings) for m in models)
    return f"Rows: each model's recommended setting ({presets}). Edit the table to run your own rows on every model."


def is_edited(table: pd.DataFrame | list, preset: pd.DataFrame | list | None) -> bool:
    """Whether the settings table differs from the preset it was last filled with."""
    if preset is None:
        return True
    try:
        return parse_settings(table) != parse_settings(preset)
    except PlaygroundError:
        return True


def chosen_models(model: Sequence[str] | str | None) -> list[str]:
    """The model dropdown's value as a list (an API caller may name a single model)."""
    models = [model] if isinstance(model, str) else list(model or [])
    if not models:
        raise PlaygroundError("Choose at least one model.")
    if len(models) > MAX_MODELS:
        raise PlaygroundError(f"Choose at most {MAX_MODELS} models, got {len(models)}.")
    return models


def parse_settings(table: pd.DataFrame | list) -> list[GuidanceSetting]:
    """Guidance rows from the settings table; blank rows are skipped, bad cells named."""
    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
    frame = frame.reindex(columns=SETTINGS_HEADERS)  # an API caller may leave clip_guidance_scale out
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
        scheduler = str(values["scheduler"] or schedulers.DEFAULT).strip()
        negative = "" if pd.isna(values["negative_prompt"]) else str(values["negative_prompt"])
        settings.append(GuidanceSetting(guidance, int(steps), scheduler, negative, clip_guidance))
    if not settings:
        raise PlaygroundError("Add at least one guidance setting row.")
    return settings


def build_comparison(
    subject: str, model: Sequence[str] | str, column_values: Sequence[str], table, images_per_cell: float,
    seed: float, runtime: Runtime, templates: TemplateSet, guidance_scorer: str, width: float = 0, height: float = 0,
    use_presets: bool = False, prompt_sr: str = "",
) -> Comparison:
    """A checked `Comparison` from the widgets; `column_values` alternates template id and prompt;
    `use_presets`: each model runs its own preset rows instead of the table's; `prompt_sr`: a
    Prompt S/R line that makes column 1 one column per term."""
    models = chosen_models(model)
    for name in models:
        if name not in runtime.models and not get_settings().allow_any_model:
            raise PlaygroundError(f"Model {name!r} is not offered here; choose from: {', '.join(runtime.models)}.")
    columns = [c for c in (column_of(t, p, subject, templates) for t, p in zip(column_values[::2], column_values[1::2])) if c]
    if (prompt_sr or "").strip():
        if not columns:
            raise PlaygroundError("Prompt S/R varies column 1's prompt: fill column 1 first.")
        columns = prompt_sr_axis.expand(columns[0], prompt_sr)
    numbers = {"Seed": seed, "Images per cell": images_per_cell, "Width": width, "Height": height}
    for name, value in numbers.items():
        if not limits.is_whole(value):
            raise PlaygroundError(f"{name} must be a whole number, got {value}.")
    comparison = Comparison(
        subject=subject or "", columns=columns, settings=None if use_presets else parse_settings(table),
        images_per_cell=int(images_per_cell), base_seed=int(seed), model_id=models[0] if len(models) == 1 else models,
        guidance_scorer_id=guidance_scorer,
        width=int(width) or None, height=int(height) or None,
    )
    comparison.check_inputs()
    return comparison


def details(row: pd.Series, number: int) -> str:
    """The selected image's full evaluation, as Markdown with user text escaped."""
    title, *lines = detail_lines(row, number)
    return "\n".join([f"**{text(title)}**", *(text(line) for line in lines)])


def legend(frame: pd.DataFrame, images_per_cell: int) -> str:
    """What the grid's axes are: prompt columns left to right, model x setting rows top to bottom."""
    columns = frame.drop_duplicates("column").sort_values("column")
    rows = frame.drop_duplicates("row").sort_values("row")
    several = frame["model_id"].nunique() > 1
    lines = [f"**Grid:** each line is {'a model × ' if several else 'a '}guidance setting; left to right, "
             f"{images_per_cell} seed(s) per prompt column."]
    lines += [f"- column c{c.column + 1}: `{text(c.template_id)}`: {text(c.prompt)}" for c in columns.itertuples()]
    lines += [f"- row r{r.row + 1}: **{text(r.model_id)}** · {text(r.setting)}"
              + (f" (negative prompt: {text(r.setting_negative_prompt)})" if r.setting_negative_prompt else "")
              + (" (⚠ the template's negative prompt is not used: the model takes none, or the row has no "
                 "classifier-free guidance)" if r.negative_ignored else "")
              for r in rows.itertuples()]
    lines += [
        f"- ⚠ column c{c.column + 1}'s prompt is longer than the text encoder of `{text(c.model_id)}` reads; "
        f"it was cut before: \"{text(c.prompt_ignored)}\""
        for c in frame[frame["prompt_ignored"] != ""].drop_duplicates(["column", "model_id"]).itertuples()
    ]
    return "\n".join(lines)


@dataclass
class CompareInputs:
    """The Compare tab's input widgets, so another tab can fill them (`restore`) and generate."""

    subject: gr.Textbox
    model: gr.Dropdown  # multiselect: up to 4 models
    columns: list  # template dropdown, prompt textbox, for each of the 4 columns
    settings_table: gr.Dataframe
    preset_rows: gr.State  # the table as last filled from a preset (None: the user's rows)
    rows_note: gr.Markdown  # says whose rows will run
    images_per_cell: gr.Slider
    seed: gr.Number
    width: gr.Number
    height: gr.Number
    filled_for: gr.State
    runtime: Runtime
    generate: Callable  # the /compare handler, for other tabs to chain after restoring inputs
    generate_inputs: list
    generate_outputs: list
    result: gr.State  # the frame of the grid shown (with image_path), for other tabs to use
    generating: list  # the events that generate, which Stop cancels; another tab's chain joins them
    stop: gr.Button

    def wire_stop(self) -> None:
        """Stop cancels every generating event (call once every tab has added its own): the
        running generator is dropped, and what is on screen (and saved, ZIP included) stays."""
        self.stop.click(None, None, None, cancels=self.generating, api_name=False)

    def components(self) -> list:
        """Every component `restore` may fill: the outputs of an event that calls it."""
        return [self.subject, self.model, *self.columns, self.settings_table, self.preset_rows, self.rows_note,
                self.images_per_cell, self.seed, self.width, self.height, self.filled_for]

    def restore(self, request: CompareRequest) -> dict:
        """Widget values for `request`, by component (a Gradio event may return this dict)."""
        if request.model is not None and request.model not in self.runtime.models:
            raise PlaygroundError(
                f"{request.label or 'This'} was made with {request.model!r}, which is not offered here "
                f"({', '.join(self.runtime.models)})."
            )
        columns = [*request.columns, *[(OFF, "")] * (MAX_COLUMNS - len(request.columns))]
        values = {
            self.subject: request.subject, self.filled_for: request.subject, self.settings_table: table_of(request.settings),
            self.preset_rows: None,  # restored rows run as they are, on whichever model is chosen
            self.rows_note: f"Rows: those of {text(request.label or 'the restored request')}, on every model chosen.",
            self.images_per_cell: request.images_per_cell, self.seed: request.seed, self.width: request.width,
            self.height: request.height, **dict(zip(self.columns, [v for pair in columns for v in pair])),
        }
        if request.model is not None:
            values[self.model] = [request.model]
        return values


def report(progress: gr.Progress, done: int, total: int, what: str | None = None) -> None:
    """The one progress bar: image-steps while denoising, gigabytes while a model downloads."""
    if what is None:
        progress((done, total), desc="Denoising", unit="image-steps")
    else:
        progress(done / max(total, 1), desc=f"{what}: {done / 1e9:.2f} of {total / 1e9:.2f} GB")


def build(runtime: Runtime, templates: TemplateSet, curated: Curated) -> CompareInputs:
    """Lay out the Compare tab inside the current Blocks and wire its events."""
    template_choices = [(f"{t.title}", t.id) for t in templates] + [("Free prompt", FREE), ("(off)", OFF)]
    domain_choices = [AUTO, NO_SCORER, *load_scorers().offered(runtime.offline)]

    @on_gpu(lambda comparison, judges, *_a, **_k: comparison.gpu_seconds() + judges.gpu_seconds(comparison.n_images))
    def _generate_on_device(comparison: Comparison, judges: Judges, progress_cb):
        yield from stream_to_folder(comparison, judges, progress=progress_cb, curated=curated)

    @on_gpu(lambda comparison, judges, *_a, **_k: comparison.gpu_seconds() + judges.gpu_seconds(comparison.n_images))
    def _rerun_on_device(comparison: Comparison, judges: Judges, saved: ComparisonResult, row: int, column: int,
                         progress_cb):
        yield from rerun_cell(comparison, saved, row, column, judges, curated, progress_cb)

    def shown(saved: ComparisonResult, comparison: Comparison, judges: Judges) -> tuple:
        """What the tab shows of a (possibly still streaming) saved result."""
        frame = saved.frame
        return (grid_view.render(frame), legend(frame, comparison.images_per_cell), mean_scores(frame),
                results_table(frame), str(saved.zip_path), str(saved.folder / GRID_FILE), frame, (comparison, judges))

    @user_errors
    def generate(
        subject: str, model: list[str] | str, scorer: str, medical_scorer: str,
        template_1: str, prompt_1: str, template_2: str, prompt_2: str,
        template_3: str, prompt_3: str, template_4: str, prompt_4: str,
        settings: pd.DataFrame, images_per_cell: float, seed: float, width: float = 0, height: float = 0,
        domain_scorer: str = AUTO, judge: str = NO_SCORER, prompt_sr: str = "", preset: pd.DataFrame | None = None,
        progress=gr.Progress(),
    ):
        """Generate the grid, streaming: each batch appears as soon as it is drawn and judged.
        model: up to 4 model ids; template_N is a template id, 'free' or 'off', prompt_N its
        prompt; settings: one row per guidance setting (left as the chosen model's recommended
        rows, each model runs its own); prompt_sr: "word, replacement, ..." turns column 1 into
        one column per term (Prompt S/R)."""
        column_values = [template_1, prompt_1, template_2, prompt_2, template_3, prompt_3, template_4, prompt_4]
        if scorer not in runtime.scorers:
            raise PlaygroundError(f"Scorer {scorer!r} is not offered here; choose one of: {', '.join(runtime.scorers)}.")
        if medical_scorer != NO_SCORER and medical_scorer not in runtime.medical_scorers:
            raise PlaygroundError(f"Medical scorer {medical_scorer!r} is not offered here.")
        if judge != NO_SCORER and judge not in runtime.judges:
            raise PlaygroundError(f"Judge {judge!r} is not offered here; choose one of: {', '.join(runtime.judges) or 'none'}.")
        if domain_scorer not in domain_choices:
            raise PlaygroundError(f"Domain scorer {domain_scorer!r} is not offered here; choose one of: "
                                  f"{', '.join(domain_choices)}.")
        comparison = build_comparison(
            subject, model, column_values, settings, images_per_cell, seed, runtime, templates, scorer, width, height,
            use_presets=not is_edited(settings, preset), prompt_sr=prompt_sr,
        )
        judges = Judges(scorer, None if medical_scorer == NO_SCORER else medical_scorer,
                        None if domain_scorer == NO_SCORER else domain_scorer, None if judge == NO_SCORER else judge)
        for saved in _generate_on_device(comparison, judges, lambda done, total, what=None: report(progress, done, total, what)):
            yield shown(saved, comparison, judges)

    @user_errors
    def rerun(frame: pd.DataFrame | None, run: tuple | None, index: float | None, progress=gr.Progress()):
        """Redraw the selected image's cell with new seeds; the rest of the grid stays."""
        if frame is None or frame.empty or run is None:
            raise PlaygroundError("Generate a comparison first, then pick an image whose cell to redraw.")
        comparison, judges = run
        index = limits.whole_number(index, "The image number", 0, len(frame) - 1)
        picked = frame.iloc[index]
        saved = ComparisonResult(frame, images_of(frame), folder=Path(frame["image_path"].iloc[0]).parent)
        for result in _rerun_on_device(comparison, judges, saved, int(picked["row"]), int(picked["column"]),
                                       lambda done, total, what=None: report(progress, done, total, what)):
            yield shown(result, comparison, judges)

    @user_errors
    def prefer(frame: pd.DataFrame | None, index: float | None, note: str = "") -> str:
        if frame is None or frame.empty:
            raise PlaygroundError("Generate a comparison first, then pick an image to prefer.")
        index = limits.whole_number(index, "The image number", 0, len(frame) - 1)
        logged = prefer_row(frame.iloc[index].to_dict(), note or "")
        verb = "Saved to the library as record" if logged.created else "Already in the library: one more vote for record"
        return f"{verb} #{logged.id} (votes: {logged.votes})."

    def select_image(frame: pd.DataFrame | None, evt: gr.EventData) -> tuple[int, str]:
        position = int(getattr(evt, "position", 0))
        if frame is None or not 0 <= position < len(frame):
            return 0, ""
        return position, details(frame.iloc[position], position)

    with gr.Row():
        subject = gr.Textbox(label="Medical subject", value=EXAMPLE_SUBJECTS[0], scale=3, elem_id="subject")
        model = gr.Dropdown(list(runtime.models), value=[runtime.models[0]], multiselect=True, max_choices=MAX_MODELS,
                            label=f"Models (up to {MAX_MODELS}: one grid row per model x setting)", scale=2,
                            elem_id="models")
        scorer = gr.Dropdown(list(runtime.scorers), value=runtime.scorers[0], label="CLIP scorer", scale=2)
        medical_scorer = gr.Dropdown(
            [NO_SCORER, *runtime.medical_scorers], value=runtime.medical_scorers[0], label="Medical CLIP scorer", scale=2
        )
        domain_scorer = gr.Dropdown(
            [("auto: by each image's modality", AUTO), *[(c, c) for c in domain_choices[1:]]], value=AUTO,
            label="Domain CLIP scorer", scale=2, elem_id="domain-scorer",
        )
        judge = gr.Dropdown([*runtime.judges, NO_SCORER], value=(runtime.judges or (NO_SCORER,))[0],
                            label="Checklist judge (vision-language model)", scale=2, elem_id="judge")
    with gr.Row():
        example_buttons = [gr.Button(s, size="sm", elem_classes=["example-subject"]) for s in EXAMPLE_SUBJECTS]
    column_widgets: list[gr.components.Component] = []
    with gr.Row():
        for i, template_id in enumerate(DEFAULT_TEMPLATES[:MAX_COLUMNS]):
            with gr.Column(min_width=200):
                choice = gr.Dropdown(template_choices, value=template_id, label=f"Column {i + 1} template")
                prompt = gr.Textbox(
                    value=fill_prompt(EXAMPLE_SUBJECTS[0], template_id, "", templates),
                    label=f"Column {i + 1} prompt (editable)", lines=3,
                )
                column_widgets += [choice, prompt]
    with gr.Row():
        default_rows = preset_table(runtime.models[:1])
        settings_table = gr.Dataframe(
            value=default_rows,
            headers=SETTINGS_HEADERS, datatype=["number", "number", "str", "str", "number"],
            label=f"Guidance settings, one row each (schedulers: {', '.join(schedulers.names())})",
            interactive=True, scale=3, elem_id="settings",
        )
        with gr.Column(scale=1):
            images_per_cell = gr.Slider(1, 4, value=2, step=1, label="Images per cell")
            seed = gr.Number(value=0, precision=0, label="Base seed")
            with gr.Row():
                width = gr.Number(value=0, precision=0, label="Width (0 = model's)", min_width=80)
                height = gr.Number(value=0, precision=0, label="Height (0 = model's)", min_width=80)
            with gr.Row():
                run_button = gr.Button("Generate", variant="primary", elem_id="generate")
                stop_button = gr.Button("Stop", variant="stop", elem_id="stop", min_width=60)
            prompt_sr = gr.Textbox(label="Prompt S/R: word, replacement, ... (column 1's prompt, one column per term, instead of columns 2-4)",
                                   value="", placeholder="H&E, immunohistochemistry, Masson's trichrome", elem_id="prompt-sr")
            png = gr.File(label="Drop a PNG here to restore its settings", file_types=[".png"], height=130,
                          elem_id="restore-png")
            png_status = gr.Markdown(elem_id="restore-status")
    preset_rows = gr.State(default_rows)
    note_md = gr.Markdown(rows_note(runtime.models[:1], edited=False), elem_id="rows-note")

    confusion_md = gr.Markdown(elem_id="confusion-warning")
    legend_md = gr.Markdown(elem_id="legend")
    grid = gr.HTML(grid_view.EMPTY, css_template=grid_view.CSS, js_on_load=grid_view.SELECT_JS, elem_id="grid",
                   label="Grid: columns are prompts, rows are model x setting (click an image to enlarge and select it)")
    with gr.Row():
        selected = gr.Number(label="Selected image #", precision=0, value=0, elem_id="selected")
        note = gr.Textbox(label="Note (optional)", scale=2)
        prefer_button = gr.Button("Prefer: log to library", elem_id="prefer")
        rerun_button = gr.Button("Re-run its cell with new seeds", elem_id="rerun-cell")
    prefer_status = gr.Markdown(elem_id="prefer-status")
    selected_details = gr.Markdown(elem_id="selected-details")
    plot = gr.BarPlot(
        x="cell", y=schema.PRIMARY_SCORE, color="template_id", title="Mean CLIP score per prompt x setting",
        x_title="prompt column · guidance row (see legend)", y_title="CLIP score (0-100)", x_label_angle=-30,
    )
    table = gr.Dataframe(pd.DataFrame(columns=[*TABLE_KEYS, schema.PRIMARY_SCORE, "prompt"]), interactive=False,
                         label="Results: one row per image, every judge's scores (press Generate to fill it)",
                         elem_id="results")
    with gr.Row():
        download = gr.File(label="Download: images, results.csv and the grid PNG (ZIP)", elem_id="download")
        grid_png = gr.File(label="Download: the labelled grid (PNG)", elem_id="grid-png")
    result_state = gr.State()
    run_state = gr.State()  # the (Comparison, Judges) behind the grid shown, for "re-run its cell"
    refine_panel.build(result_state, run_state, selected, curated)
    search_panel.build({"subject": subject, "template": column_widgets[0], "prompt": column_widgets[1], "model": model,
                        "scorer": scorer, "judge": judge}, runtime, templates, curated)

    inputs = [subject, model, scorer, medical_scorer, *column_widgets, settings_table, images_per_cell, seed, width, height,
              domain_scorer, judge, prompt_sr, preset_rows]
    outputs = [grid, legend_md, plot, table, download, grid_png, result_state, run_state]
    grid.click(select_image, result_state, [selected, selected_details], api_name=False)
    prefer_button.click(prefer, [result_state, selected, note], prefer_status, api_name="prefer")

    def sync(subject_value: str, filled_for: str, *values: str) -> list[str]:
        prompts = [
            sync_prompt(subject_value, filled_for, template_id, current, templates)
            for template_id, current in zip(values[::2], values[1::2])
        ]
        return [*prompts, subject_value]

    def follow_models(models: list[str], table: pd.DataFrame, preset: pd.DataFrame | None):
        """A newly chosen model brings its recommended rows, unless the user edited the table."""
        if not models:  # between removing one model and choosing another
            return table, preset, "Choose at least one model."
        if is_edited(table, preset):
            return table, preset, rows_note(models, edited=True)
        rows = preset_table(models)
        return rows, rows, rows_note(models, edited=False)

    model.change(follow_models, [model, settings_table, preset_rows], [settings_table, preset_rows, note_md],
                 api_name=False)
    settings_table.input(lambda models, table, preset: rows_note(models or runtime.models[:1], is_edited(table, preset)),
                         [model, settings_table, preset_rows], note_md, api_name=False)

    prompts = column_widgets[1::2]
    filled_for = gr.State(EXAMPLE_SUBJECTS[0])
    sync_inputs, sync_outputs = [subject, filled_for, *column_widgets], [*prompts, filled_for]
    # Generate first brings template prompts up to date with the subject (typing may still be in
    # flight), then generates with what the boxes show.
    @user_errors
    def warn(subject_value: str, scorer_id: str, *values: str) -> str:
        """Before any image is drawn: prompts nearer a known confuser than their subject."""
        if scorer_id not in runtime.scorers or not (subject_value or "").strip():
            return ""  # generate says what is wrong
        columns = [column_of(t, p, subject_value, templates) for t, p in zip(values[::2], values[1::2])]
        found = confusion_warnings(subject_value, [c for c in columns if c], scorer_id, curated, templates)
        return "\n".join(f"- ⚠ {text(w)}" for w in found)

    warn_inputs = [subject, scorer, *column_widgets]
    generating = [run_button.click(sync, sync_inputs, sync_outputs, api_name=False).then(
        warn, warn_inputs, confusion_md, api_name="confusion_warnings"
    ).then(generate, inputs, outputs, api_name="compare")]
    generating.append(rerun_button.click(rerun, [result_state, run_state, selected], outputs, api_name="rerun_cell"))
    subject.input(sync, sync_inputs, sync_outputs, api_name=False, trigger_mode="always_last")
    for choice, prompt in zip(column_widgets[::2], prompts):
        choice.change(
            lambda s, t, p: fill_prompt(s, t, p, templates), [subject, choice, prompt], prompt, api_name=False
        )
    for button, example in zip(example_buttons, EXAMPLE_SUBJECTS):
        generating.append(button.click(lambda example=example: example, None, subject, api_name=False).then(
            sync, sync_inputs, sync_outputs, api_name=False
        ).then(warn, warn_inputs, confusion_md, api_name=False).then(generate, inputs, outputs, api_name=False))
    compare_inputs = CompareInputs(
        subject, model, column_widgets, settings_table, preset_rows, note_md, images_per_cell, seed, width, height,
        filled_for, runtime, generate, inputs, outputs, result_state, generating, stop_button,
    )

    @user_errors
    def restore_png(path: str | None) -> dict:
        """A dropped PNG's settings fill the tab (the playground's own PNGs, or AUTOMATIC1111's)."""
        if not path:
            return {}
        try:
            parameters = read_parameters(Path(path))
        except (KeyError, OSError, SyntaxError):
            raise PlaygroundError("This file is not a PNG with generation parameters (an image saved by the "
                                  "playground or by AUTOMATIC1111 carries them).") from None
        request = from_parameters(parameters, templates, runtime.models)
        return {**compare_inputs.restore(request), png_status: f"Restored from {text(request.label)}."}

    png.upload(restore_png, png, [*compare_inputs.components(), png_status], api_name="restore_png")
    return compare_inputs
