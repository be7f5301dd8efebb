"""The Educators tab: a gallery of documented confusions, each reproducible in Compare in one click.

A case opens in Compare as short vs detailed prompt (columns) x the chosen model's recommended
setting without and with CLIP guidance (rows), and generates at once; each image shows what CLIP
"sees" (the probe).
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..curated import Curated
from ..restore import from_confusion
from ..templates import TemplateSet
from .common import user_errors
from .compare import CompareInputs

CASE_COLUMNS = ["id", "subject", "modality", "draws", "confusers", "why"]


def cases_table(curated: Curated) -> pd.DataFrame:
    rows = [{**case.model_dump(), "confusers": ", ".join(case.confusers)} for case in curated.confusions]
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def build(templates: TemplateSet, curated: Curated, compare_inputs: CompareInputs, tabs: gr.Tabs) -> None:
    """Lay out the Educators tab (inside `gr.Tabs`) and wire "reproduce in Compare"."""

    @user_errors
    def reproduce(case_id: str, models: list[str] | str) -> dict:
        model = models if isinstance(models, str) else (models or [compare_inputs.runtime.models[0]])[0]
        request = from_confusion(curated.confusion(case_id), templates, model)
        return {**compare_inputs.restore(request), tabs: gr.Tabs(selected="compare")}

    def pick(table: pd.DataFrame, evt: gr.SelectData) -> str:
        return str(table.iloc[evt.index[0]]["id"])

    with gr.Tab("Educators", id="educators"):
        gr.Markdown(
            "**Confusions of general text-to-image models on medical prompts.** Pick a case (click a row) and "
            "reproduce it: Compare opens with the short and the detailed prompt, each at the chosen model's "
            "recommended setting without and with CLIP guidance, and shows under every image what CLIP sees in it."
        )
        table = gr.Dataframe(cases_table(curated), interactive=False, wrap=True, elem_id="confusion-cases",
                             label=f"{len(curated.confusions)} documented cases")
        with gr.Row():
            case = gr.Dropdown([(f"{c.subject} ({c.modality})", c.id) for c in curated.confusions],
                               value=curated.confusions[0].id if curated.confusions else None,
                               label="Case", elem_id="confusion-case")
            button = gr.Button("Reproduce in Compare", variant="primary", elem_id="reproduce")

    table.select(pick, table, case, api_name=False)
    button.click(reproduce, [case, compare_inputs.model], [*compare_inputs.components(), tabs], api_name="reproduce_confusion").then(
        compare_inputs.generate, compare_inputs.generate_inputs, compare_inputs.generate_outputs, api_name=False
    )
