"""Compare's prompt search panel: hill-climb column 1's template for the subject on the first
chosen model, within a budget of images; show every step, the gain on held-out seeds, and put the
best prompt into column 1 on request. The search logs its best prompt to the library."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from .. import limits
from ..catalog.templates import TemplateSet
from ..errors import PlaygroundError
from ..judges.base import Context
from ..models.registry import model_preset
from ..models.runtime import Runtime
from ..render.markdown import text
from ..workflow import budget
from ..workflow.form import FREE, OFF, CompareForm
from ..workflow.prompt_search import HELD_OUT_SEEDS, HISTORY_COLUMNS, search
from . import gpu
from .common import user_errors
from .compare_form import FormWidgets


def build(form: FormWidgets, runtime: Runtime, templates: TemplateSet, context: Context) -> None:
    """Lay out the panel (inside the Compare tab): it reads the form's subject, column 1, model,
    scorer and checklist judge."""

    @user_errors
    def run_search(budget_images: float, progress=gr.Progress(), **fields) -> tuple:
        """Search prompts from column 1's template for the subject, on the first chosen model."""
        chosen = CompareForm.from_fields(fields)
        template = chosen.columns[0][0]
        if template in (FREE, OFF):
            raise PlaygroundError("The prompt search starts from a template: choose one in column 1.")
        if not chosen.subject.strip():
            raise PlaygroundError("Type a subject first.")
        judges = chosen.judges(runtime)
        model = (chosen.models or runtime.models[:1])[0]
        if model not in runtime.models:
            raise PlaygroundError(f"Model {model!r} is not offered here; choose from: {', '.join(runtime.models)}.")
        images = limits.whole_number(budget_images, "The budget", 4, 64)
        seconds = budget.search(model, model_preset(model).settings[0], images, len(HELD_OUT_SEEDS), judges)
        (found,) = gpu.each(search, chosen.subject.strip(), template, model, judges, images, templates=templates,
                            context=context, progress=progress, seconds=seconds)
        summary = (f"**Best prompt:** {text(found.best_prompt)}\n\nSearch seeds: {found.start_score:.3f} → "
                   f"{found.best_score:.3f}; held-out seeds: {found.held_out_start:.3f} → {found.held_out_best:.3f} "
                   f"(gain {found.gain:+.3f}). Logged to the library as record #{found.record_id}.")
        return summary, found.history.round(4), found.best_prompt

    with gr.Accordion("Search prompts automatically from column 1's template", open=False, elem_id="search-panel"):
        gr.Markdown("Hill climbing on the checklist score (the checklist judge's, else CLIP's): each step adds a "
                    "criterion's wording or a style phrase, reorders phrases, drops a word or swaps the subject for a "
                    "synonym, and keeps the change when the mean score over the same seeds rises. The best prompt is "
                    "then drawn on held-out seeds beside the start, and logged to the library.")
        with gr.Row():
            images = gr.Slider(4, 64, value=12, step=2, label="Budget (images drawn in the search)")
            search_button = gr.Button("Search", variant="primary", elem_id="search-prompts")
            use_button = gr.Button("Use the best prompt in column 1", elem_id="search-use")
        summary = gr.Markdown(elem_id="search-summary")
        history = gr.Dataframe(pd.DataFrame(columns=HISTORY_COLUMNS), interactive=False, wrap=True,
                               column_widths=["70px", "110px", "80px", "70px", "80px", "560px"],  # no header breaks
                               elem_id="search-history", label="Every step tried (press Search to fill it)")
        best = gr.State("")

    search_button.click(run_search, [images], inputs_kwargs=form.widgets, outputs=[summary, history, best],
                        api_name="prompt_search")
    use_button.click(lambda prompt, current: prompt or current, [best, form["prompt_1"]], form["prompt_1"],
                     api_name=False)
