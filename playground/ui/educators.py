"""The Educators tab: a gallery of documented confusions, each reproducible in Compare in one click.

Each case is shown as a picture drawn once on the chosen model (its short prompt), with what
CLIP's probe sees in it; pictures drawn before are read from disk. A case opens in Compare as short vs detailed prompt (columns) x the chosen model's recommended
setting without and with CLIP guidance (rows), and generates at once; each image shows what CLIP
"sees" (the probe).
"""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd

from ..catalog.curated import Curated
from ..catalog.templates import TemplateSet
from ..judges.base import Context, Judges
from ..models.registry import model_preset
from ..render.grid_html import file_url
from ..workflow import budget, confusion_gallery
from ..workflow.restore import from_confusion
from . import gpu
from .common import user_errors
from .compare import CompareTab

CASE_COLUMNS = ["id", "subject", "modality", "draws", "confusers", "why"]


def cases_table(curated: Curated) -> pd.DataFrame:
    rows = [{**case.model_dump(), "confusers": ", ".join(case.confusers)} for case in curated.confusions]
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


CARDS_CSS = """
.pg-cases { display: flex; flex-wrap: wrap; gap: 10px; }
.pg-cases figure { margin: 0; width: 168px; }
.pg-cases img { width: 160px; height: 160px; object-fit: contain; display: block; background: #fff; }
.pg-cases figcaption { font-size: 0.85em; line-height: 1.3; overflow-wrap: anywhere; }
.pg-cases .pg-slot { width: 160px; height: 160px; display: flex; align-items: center; justify-content: center;
                     border: 1px dashed #999; color: #666; font-size: 0.85em; }
"""


def _cards(shown: dict, names: dict[str, str], model_id: str) -> str:
    """Every case at once, in case order (`shown`: case id -> its picture or None; `names`: case id ->
    its name): its picture with its whole caption (wrapped, never cut), or a slot saying it is
    still being drawn; above them, how many are drawn of all."""
    done = sum(p is not None for p in shown.values())
    count = f"{done} of {len(shown)} cases drawn on {html.escape(model_id)}"
    if done < len(shown):
        count += " (each appears here when it is drawn)"
    cards = [f'<figure><img src="{html.escape(file_url(p.path))}" alt="{html.escape(p.case.subject)}">'
             f"<figcaption>{html.escape(p.caption)}</figcaption></figure>" if p else
             f'<figure><div class="pg-slot">being drawn…</div><figcaption>{html.escape(names[case])}</figcaption></figure>'
             for case, p in shown.items()]
    return f'<p id="cases-drawn">{count}</p><div class="pg-cases">{"".join(cards)}</div>'


def build(templates: TemplateSet, curated: Curated, compare: CompareTab, tabs: gr.Tabs) -> None:
    """Lay out the Educators tab (inside `gr.Tabs`) and wire its pictures and "reproduce in Compare"."""
    runtime = compare.runtime
    context = Context(curated, runtime.offline)

    @user_errors
    def pictures(models: list[str] | str, progress=gr.Progress()):
        """The cases' pictures on the first chosen model, drawing those not drawn yet (streamed)."""
        model_id = models if isinstance(models, str) else (models or runtime.models[:1])[0]
        names = {case.id: f"{case.subject} ({case.modality})" for case in curated.confusions}
        shown = {case.id: confusion_gallery.drawn(case, model_id) for case in curated.confusions}
        missing = [case for case in curated.confusions if shown[case.id] is None]
        yield _cards(shown, names, model_id)
        if not missing:
            return  # every picture read from disk: no GPU asked for
        judges = Judges(runtime.scorers[0], domain_scorer_id=None, finding=False)
        seconds = budget.pictures([model_id], [model_preset(model_id).settings[0]], len(missing), judges)
        progress((0, len(missing)), desc=f"Drawing the cases on {model_id}", unit="cases")
        drawing = gpu.each(confusion_gallery.draw, missing, model_id, runtime.scorers[0], templates, context,
                           seconds=seconds)
        for done, picture in enumerate(drawing, start=1):
            progress((done, len(missing)), desc=f"Drawing the cases on {model_id}", unit="cases")
            shown[picture.case.id] = picture
            yield _cards(shown, names, model_id)

    @user_errors
    def reproduce(case_id: str, models: list[str] | str) -> dict:
        model = models if isinstance(models, str) else (models or [runtime.models[0]])[0]
        form = from_confusion(curated.confusion(case_id), templates, model)
        return {**compare.restore(form), tabs: gr.Tabs(selected="compare")}

    def pick(table: pd.DataFrame, evt: gr.SelectData) -> str:
        return str(table.iloc[evt.index[0]]["id"])

    with gr.Tab("Educators", id="educators") as tab:
        gr.Markdown(
            "**Confusions of general text-to-image models on medical prompts.** Pick a case (click a row) and "
            "reproduce it: Compare opens with the short and the detailed prompt, each at the chosen model's "
            "recommended setting without and with CLIP guidance, and shows under every image what CLIP sees in it."
        )
        gr.Markdown("Each case drawn on the first model chosen in Compare (its short prompt), with what CLIP sees in it:")
        gallery = gr.HTML("Open this tab to draw the cases.", css_template=CARDS_CSS, elem_id="confusion-gallery")
        table = gr.Dataframe(cases_table(curated), interactive=False, wrap=True, elem_id="confusion-cases",
                             column_widths=["170px", "150px", "135px", "195px", "240px", "310px"],  # readable, wrapped; a phone scrolls the box
                             max_height=1400,  # every case's row drawn (a shorter box leaves the last ones undrawn)
                             label=f"{len(curated.confusions)} documented cases")
        with gr.Row():
            case = gr.Dropdown([(f"{c.subject} ({c.modality})", c.id) for c in curated.confusions],
                               value=curated.confusions[0].id if curated.confusions else None,
                               label="Case", elem_id="confusion-case")
            button = gr.Button("Reproduce in Compare", variant="primary", elem_id="reproduce")

    table.select(pick, table, case, api_name=False)
    tab.select(pictures, compare.form["model"], gallery, api_name="confusion_pictures",
               show_progress="minimal")  # the cards say how many are drawn; they stay readable while they fill
    compare.then_generate(button.click(reproduce, [case, compare.form["model"]], [*compare.form.components(), tabs],
                                       api_name="reproduce_confusion"))
