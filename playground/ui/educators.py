"""The Educators tab: a gallery of documented confusions, each reproducible in Compare in one click.

A case opens in Compare as short vs detailed prompt (columns) x CFG 7.5 without and with CLIP
guidance (rows), and generates at once; each image shows what CLIP "sees" (the probe).
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from .. import schedulers
from ..curated import Confusion, Curated
from ..generate import MAX_COLUMNS
from ..startup import Runtime
from ..templates import TemplateSet
from .common import user_errors
from .compare import OFF, SETTINGS_HEADERS, CompareInputs

CASE_COLUMNS = ["id", "subject", "modality", "draws", "confusers", "why"]
REPRODUCE_STEPS = 20
CLIP_GUIDANCE = 100.0


def cases_table(curated: Curated) -> pd.DataFrame:
    rows = [{**case.model_dump(), "confusers": ", ".join(case.confusers)} for case in curated.confusions]
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def reproduction_inputs(case: Confusion, runtime: Runtime, templates: TemplateSet) -> list:
    """Values for `CompareInputs.components()`: short vs detailed x CFG 7.5 without / with CLIP guidance."""
    columns = []
    for variant in ("short", "detailed"):
        template = templates.for_modality(case.modality, variant)
        columns += [template.id, template.fill(case.subject)]
    columns += [OFF, ""] * (MAX_COLUMNS - 2)
    settings = pd.DataFrame(
        [[7.5, REPRODUCE_STEPS, schedulers.DEFAULT, "", 0.0], [7.5, REPRODUCE_STEPS, schedulers.DEFAULT, "", CLIP_GUIDANCE]],
        columns=SETTINGS_HEADERS,
    )
    return [case.subject, runtime.models[0], *columns, settings, 2, 0, 0, 0, case.subject]


def build(runtime: Runtime, templates: TemplateSet, curated: Curated, compare_inputs: CompareInputs, tabs: gr.Tabs) -> None:
    """Lay out the Educators tab (inside `gr.Tabs`) and wire "reproduce in Compare"."""

    @user_errors
    def reproduce(case_id: str) -> list:
        case = curated.confusion(case_id)
        return [*reproduction_inputs(case, runtime, templates), gr.Tabs(selected="compare")]

    def pick(table: pd.DataFrame, evt: gr.SelectData) -> str:
        return str(table.iloc[evt.index[0]]["id"])

    with gr.Tab("Educators", id="educators"):
        gr.Markdown(
            "**Confusions of general text-to-image models on medical prompts.** Pick a case (click a row) and "
            "reproduce it: Compare opens with the short and the detailed prompt, each at CFG 7.5 without and "
            "with CLIP guidance, and shows under every image what CLIP sees in it."
        )
        table = gr.Dataframe(cases_table(curated), interactive=False, wrap=True, elem_id="confusion-cases",
                             label=f"{len(curated.confusions)} documented cases")
        with gr.Row():
            case = gr.Dropdown([(f"{c.subject} ({c.modality})", c.id) for c in curated.confusions],
                               value=curated.confusions[0].id if curated.confusions else None,
                               label="Case", elem_id="confusion-case")
            button = gr.Button("Reproduce in Compare", variant="primary", elem_id="reproduce")

    table.select(pick, table, case, api_name=False)
    button.click(reproduce, case, [*compare_inputs.components(), tabs], api_name="reproduce_confusion").then(
        compare_inputs.generate, compare_inputs.generate_inputs, compare_inputs.generate_outputs, api_name=False
    )
