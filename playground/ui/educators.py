"""The Educators tab: a gallery of documented confusions, each reproducible in Compare in one click.

Each case is shown as a picture drawn once on the chosen model (its short prompt), with what
CLIP's probe sees in it; pictures drawn before are read from disk. A case opens in Compare as short vs detailed prompt (columns) x the chosen model's recommended
setting without and with CLIP guidance (rows), and generates at once; each image shows what CLIP
"sees" (the probe).
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..curated import Curated
from ..restore import from_confusion
from ..templates import TemplateSet
from .. import confusion_gallery
from .common import on_gpu, user_errors
from .compare import CompareInputs

GPU_SECONDS_PER_CASE = 15  # one image and its probe, with the model loaded
CASE_COLUMNS = ["id", "subject", "modality", "draws", "confusers", "why"]


def cases_table(curated: Curated) -> pd.DataFrame:
    rows = [{**case.model_dump(), "confusers": ", ".join(case.confusers)} for case in curated.confusions]
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def _items(shown: dict) -> list[tuple[str, str]]:
    """The gallery's (image, caption) pairs of the pictures drawn so far, in case order."""
    return [(str(p.path), p.caption) for p in shown.values() if p is not None]


def build(templates: TemplateSet, curated: Curated, compare_inputs: CompareInputs, tabs: gr.Tabs) -> None:
    """Lay out the Educators tab (inside `gr.Tabs`) and wire its pictures and "reproduce in Compare"."""
    runtime = compare_inputs.runtime

    @on_gpu(lambda missing, *_a, **_k: GPU_SECONDS_PER_CASE * len(missing))
    def _draw_on_device(missing: list, model_id: str):
        yield from confusion_gallery.draw(missing, model_id, runtime.scorers[0], templates, curated)

    @user_errors
    def pictures(models: list[str] | str, progress=gr.Progress()):
        """The cases' pictures on the first chosen model, drawing those not drawn yet (streamed)."""
        model_id = models if isinstance(models, str) else (models or runtime.models[:1])[0]
        shown = {case.id: confusion_gallery.drawn(case, model_id) for case in curated.confusions}
        missing = [case for case in curated.confusions if shown[case.id] is None]
        yield _items(shown)
        for done, picture in enumerate(_draw_on_device(missing, model_id), start=1):
            progress((done, len(missing)), desc=f"Drawing the cases on {model_id}", unit="cases")
            shown[picture.case.id] = picture
            yield _items(shown)

    @user_errors
    def reproduce(case_id: str, models: list[str] | str) -> dict:
        model = models if isinstance(models, str) else (models or [compare_inputs.runtime.models[0]])[0]
        request = from_confusion(curated.confusion(case_id), templates, model)
        return {**compare_inputs.restore(request), tabs: gr.Tabs(selected="compare")}

    def pick(table: pd.DataFrame, evt: gr.SelectData) -> str:
        return str(table.iloc[evt.index[0]]["id"])

    def pick_picture(evt: gr.SelectData) -> str:
        return curated.confusions[evt.index].id if evt.index < len(curated.confusions) else curated.confusions[0].id

    with gr.Tab("Educators", id="educators") as tab:
        gr.Markdown(
            "**Confusions of general text-to-image models on medical prompts.** Pick a case (click a row) and "
            "reproduce it: Compare opens with the short and the detailed prompt, each at the chosen model's "
            "recommended setting without and with CLIP guidance, and shows under every image what CLIP sees in it."
        )
        gallery = gr.Gallery(label="Each case drawn on the first model chosen in Compare (its short prompt), with what "
                             "CLIP sees in it; click one to pick it", columns=5, height=420, elem_id="confusion-gallery")
        table = gr.Dataframe(cases_table(curated), interactive=False, wrap=True, elem_id="confusion-cases",
                             label=f"{len(curated.confusions)} documented cases")
        with gr.Row():
            case = gr.Dropdown([(f"{c.subject} ({c.modality})", c.id) for c in curated.confusions],
                               value=curated.confusions[0].id if curated.confusions else None,
                               label="Case", elem_id="confusion-case")
            button = gr.Button("Reproduce in Compare", variant="primary", elem_id="reproduce")

    table.select(pick, table, case, api_name=False)
    tab.select(pictures, compare_inputs.model, gallery, api_name="confusion_pictures")
    gallery.select(pick_picture, None, case, api_name=False)
    compare_inputs.generating.append(button.click(
        reproduce, [case, compare_inputs.model], [*compare_inputs.components(), tabs], api_name="reproduce_confusion"
    ).then(compare_inputs.generate, compare_inputs.generate_inputs, compare_inputs.generate_outputs, api_name=False))
