"""Compare's prompt search panel: hill-climb column 1's template for the subject on the first
chosen model, within a budget of images; show every step, the gain on held-out seeds, and put the
best prompt into column 1 on request. The search logs its best prompt to the library."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from .. import limits
from ..curated import Curated
from ..errors import PlaygroundError
from ..prompt_search import HISTORY_COLUMNS, search
from ..restore import FREE, OFF
from ..startup import Runtime
from ..templates import TemplateSet
from ..workflow import Judges
from .common import on_gpu, text, user_errors

SECONDS_PER_IMAGE = 6  # one image and its checklist on a ZeroGPU GPU


def build(widgets: dict, runtime: Runtime, templates: TemplateSet, curated: Curated) -> None:
    """Lay out the panel (inside the Compare tab); `widgets`: subject, template (column 1's),
    prompt (column 1's), model, scorer and judge."""

    @on_gpu(lambda subject, template, model, judges, budget, *_a, **_k: 30 + SECONDS_PER_IMAGE * (budget + 4))
    def _search_on_device(subject: str, template: str, model: str, judges: Judges, budget: int, progress):
        return search(subject, template, model, judges, budget, templates=templates, curated=curated, progress=progress)

    @user_errors
    def run_search(subject: str, template: str, models: list[str] | str, scorer: str, judge: str, budget: float,
                   progress=gr.Progress()) -> tuple:
        """Search prompts from column 1's template for the subject, on the first chosen model."""
        if template in (FREE, OFF):
            raise PlaygroundError("The prompt search starts from a template: choose one in column 1.")
        if not (subject or "").strip():
            raise PlaygroundError("Type a subject first.")
        model = models if isinstance(models, str) else (models or runtime.models[:1])[0]
        if model not in runtime.models or scorer not in runtime.scorers:
            raise PlaygroundError("Choose a model and a CLIP scorer offered here.")
        budget = limits.whole_number(budget, "The budget", 4, 64)
        judges = Judges(scorer, judge_id=judge if judge in runtime.judges else None)
        found = _search_on_device(subject.strip(), template, model, judges, budget,
                                  lambda done, total, *_: progress((done, total), desc="Searching", unit="image-steps"))
        summary = (f"**Best prompt:** {text(found.best_prompt)}\n\nSearch seeds: {found.start_score:.3f} → "
                   f"{found.best_score:.3f}; held-out seeds: {found.held_out_start:.3f} → {found.held_out_best:.3f} "
                   f"(gain {found.gain:+.3f}). Logged to the library as record #{found.record_id}.")
        return summary, found.history.round(4), found.best_prompt

    with gr.Accordion("Search prompts automatically from column 1's template", open=False, elem_id="search-panel"):
        gr.Markdown("Hill climbing on the checklist score (the judge's, else CLIP's): each step adds a criterion's "
                    "wording or a style phrase, reorders phrases, drops a word or swaps the subject for a synonym, and "
                    "keeps the change when the mean score over the same seeds rises. The best prompt is then drawn on "
                    "held-out seeds beside the start, and logged to the library.")
        with gr.Row():
            budget = gr.Slider(4, 64, value=12, step=2, label="Budget (images drawn in the search)")
            search_button = gr.Button("Search", variant="primary", elem_id="search-prompts")
            use_button = gr.Button("Use the best prompt in column 1", elem_id="search-use")
        summary = gr.Markdown(elem_id="search-summary")
        history = gr.Dataframe(pd.DataFrame(columns=HISTORY_COLUMNS), interactive=False, wrap=True,
                               elem_id="search-history",
                               label="Every step tried (press Search to fill it)")
        best = gr.State("")

    search_button.click(run_search, [widgets["subject"], widgets["template"], widgets["model"], widgets["scorer"],
                                     widgets["judge"], budget], [summary, history, best], api_name="prompt_search")
    use_button.click(lambda prompt, current: prompt or current, [best, widgets["prompt"]], widgets["prompt"],
                     api_name=False)
