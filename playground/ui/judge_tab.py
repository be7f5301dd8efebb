"""The Judge tab: any images (another model's, a camera's, a scan) judged as Compare judges its
grid, with the same badges, enlarged view and results table, and the table as CSV.

The handler is thin: it checks the request, then runs `workflow.judge_files` on the GPU
(`gpu.each`, as every tab does); `/judge` is the same handler for scripts.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from ..catalog.curated import Curated
from ..catalog.templates import TemplateSet
from ..config import get_settings
from ..errors import PlaygroundError
from ..judges.base import Context
from ..models.runtime import Runtime
from ..render import grid_html
from ..render.markdown import text
from ..render.tables import TABLE_KEYS, results_table
from ..workflow import budget
from ..workflow.compare import new_run_folder
from ..workflow.form import AUTO, NONE, CompareForm
from ..workflow.judge_files import Asked, ImageFile, Judged, judge_files
from . import gpu
from .common import user_errors
from .compare_form import judge_choices

EMPTY = ('<div class="pg-empty">Nothing judged yet: upload PNG, JPEG or WebP images above, name the subject they '
         "should show, then press <b>Judge</b>.</div>")


def shown(judged: Judged) -> tuple[str, str, pd.DataFrame]:
    """What the tab shows of judged images: a line (and each file skipped), the images as Compare's
    grid draws them (one row, a column per image), the results table with each image's file."""
    said = "\n".join([f"Judged {len(judged.frame)} images against \u201c{text(judged.frame['subject'].iloc[0])}\u201d.",
                      *(f"- \u26a0 skipped: {text(reason)}" for reason in judged.skipped)])
    drawn = judged.frame.assign(seed=judged.frame["seed"].fillna(0).astype(int))  # the grid captions a seed
    table = results_table(judged.frame)
    table.insert(1, "file", judged.frame["file"].to_numpy())
    said_something = (table != "").any()  # not the columns only drawing fills (model, setting)
    return said, grid_html.render(drawn), table.loc[:, said_something]


def _layout(runtime: Runtime, templates: TemplateSet) -> dict:
    """The tab's widgets by name (inside the current `gr.Tab`); the judge choices are the Compare
    form's (see ui/compare_form.py)."""
    w: dict = {}
    gr.Markdown("**Judge any image** (another model's, a camera's, a scan) with the judges of Compare. Each image is "
                "judged against the prompt typed, else its PNG's own prompt (this app's or AUTOMATIC1111's), else the "
                "template filled with the subject, else the subject.")
    with gr.Row(equal_height=True):
        w["files"] = gr.File(file_count="multiple", file_types=["image"], type="filepath", height=140, scale=2,
                             label="Images (PNG, JPEG or WebP)", elem_id="judge-files")
        with gr.Column(scale=2):
            w["subject"] = gr.Textbox(label="Medical subject", elem_id="judge-subject")
            w["prompt"] = gr.Textbox("", label="Prompt (optional)", elem_id="judge-prompt")
        with gr.Column(scale=1, min_width=180):
            w["template"] = gr.Dropdown([("(none)", ""), *((t.title, t.id) for t in templates)], value="",
                                        label="Kind of image (template)", elem_id="judge-template")
            w["run"] = gr.Button("Judge", variant="primary", elem_id="judge-run")
    with gr.Accordion("Judges", open=False):
        w |= judge_choices(runtime, prefix="judge-tab-")
    w["status"] = gr.Markdown(elem_id="judge-status")
    w["grid"] = gr.HTML(EMPTY, css_template=grid_html.CSS, elem_id="judge-grid",
                        label="Judged images (click one to enlarge it with its full evaluation)")
    w["table"] = gr.Dataframe(pd.DataFrame(columns=[TABLE_KEYS[0], "file", "prompt"]), interactive=False,
                              label="Results: one row per image, every judge's scores", elem_id="judge-results")
    w["csv"] = gr.File(label="Download: results.csv", elem_id="judge-csv")
    return w


def build(runtime: Runtime, templates: TemplateSet, curated: Curated) -> None:
    """Lay out the Judge tab (inside `gr.Tabs`) and wire Judge, also served as `/judge`."""
    context = Context(curated, runtime.offline)

    @user_errors
    def judge_uploads(files: list[str] | None, subject: str, prompt: str = "", template: str = "", scorer: str = "",
                      medical_scorer: str = NONE, domain_scorer: str = AUTO, judge: str = NONE,
                      progress=gr.Progress()) -> tuple:
        """Judge the uploaded images (files) against the subject, with the judges chosen."""
        most = get_settings().max_images
        if not files:
            raise PlaygroundError("Upload at least one image to judge (PNG, JPEG or WebP).")
        if len(files) > most:
            raise PlaygroundError(f"Judge at most {most} images at once (PLAYGROUND_MAX_IMAGES); got {len(files)}.")
        Asked.check(subject, prompt, template)  # a mistake is a sentence before any GPU time
        judges = CompareForm(scorer=scorer or "", medical_scorer=medical_scorer or NONE,
                             domain_scorer=domain_scorer or AUTO, judge=judge or NONE).judges(runtime)
        folder = new_run_folder()
        images = [ImageFile(Path(path), Path(path).name) for path in files]
        seconds = budget.OVERHEAD_SECONDS + budget.LOAD_SECONDS + budget.judging(len(images), judges)
        (judged,) = gpu.each(judge_files, images, subject, judges, prompt, template, context=context, folder=folder,
                             out=folder / "results.csv", seconds=seconds, progress=progress)
        return *shown(judged), str(judged.table)

    with gr.Tab("Judge", id="judge"):
        w = _layout(runtime, templates)
    inputs = [w[name] for name in ("files", "subject", "prompt", "template", "scorer", "medical_scorer",
                                   "domain_scorer", "judge")]
    w["run"].click(judge_uploads, inputs, [w["status"], w["grid"], w["table"], w["csv"]], show_progress_on=w["grid"],
                   api_name="judge")
