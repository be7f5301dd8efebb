"""The Compare tab: one subject through up to 4 prompts x 4 guidance settings x 4 models, same seeds.

Handlers are thin: they read the form (`CompareForm.from_fields`), resolve it into a comparison
and its judges, run the grid on the GPU (`gpu.each`, streamed batch by batch) and lay out each
batch as it comes (the labelled grid is `render.grid_html`). The form's widgets are passed by
name (`inputs_kwargs`), so `/compare` takes keywords and no order of inputs matters.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from .. import schema
from ..catalog.curated import Curated
from ..catalog.templates import TemplateSet
from ..comparison import Comparison, ComparisonResult
from ..errors import PlaygroundError
from ..judges.base import Context, Judges
from ..judges.confusion import confusion_warnings
from ..models.runtime import Runtime
from ..render import grid_html
from ..render.export import read_parameters
from ..render.markdown import text
from ..render.tables import (
    TABLE_KEYS,
    captioned_images,
    details,
    legend,
    mean_scores,
    results_table,
)
from ..stores.library import prefer as prefer_row
from ..workflow import budget
from ..workflow.compare import (
    GRID_FILE,
    decode_in_full,
    images_of,
    rerun_cell,
    stream_to_folder,
)
from ..workflow.form import CompareForm, column_of
from ..workflow.restore import from_parameters
from ..workflow.subgroups import shown_gaps
from . import compare_cost, compare_form, compare_link, gpu, refine_panel, search_panel
from .common import image_position, user_errors, vote_said, voter_of
from .compare_form import FormWidgets


@dataclass(frozen=True)
class Run:
    """What the grid on screen was drawn from: its request and its judges (re-run and refine use them)."""

    comparison: Comparison
    judges: Judges


@dataclass
class CompareTab:
    """The Compare tab's parts other tabs use: the form (to fill it), the handler that generates
    and its outputs (to chain it), the grid shown; and what a link opened on the page fills."""

    form: FormWidgets
    handlers: Handlers
    outputs: list
    result: gr.State  # the frame of the grid shown (with image_path)
    selection: list  # what depends on the grid's selected image: its number, details, note, Prefer's message
    link: dict  # the link's widgets (ui/compare_link.py)
    link_status: gr.Markdown  # what became of a link the page was opened from
    linked: gr.State  # whether the page was opened from a link

    @property
    def runtime(self) -> Runtime:
        return self.form.runtime

    @property
    def generate(self) -> Callable:
        return self.handlers.generate

    def view(self, saved: ComparisonResult, comparison: Comparison, judges: Judges) -> tuple:
        """What the tab shows of `saved`, drawn from `comparison` judged by `judges`."""
        return view(saved, Run(comparison, judges))

    def on_load(self, demo: gr.Blocks) -> None:
        """What the page does as it opens: the cost of the form shown, a link's form and grid reopened."""
        demo.load(self.handlers.cost.describe, inputs_kwargs=self.form.widgets, outputs=self.form.cost,
                  show_progress="hidden", api_name=False)
        compare_link.wire(compare_link.Links(self), self.link, demo)

    def restore(self, filled: CompareForm) -> dict:
        """Widget values for `filled` (see `restore`)."""
        return restore(self.form, filled)

    def then_generate(self, event) -> None:
        """Generate after `event` (a restore); Stop ends it as it ends the tab's own."""
        self.new_grid(event).then(self.generate, inputs_kwargs=self.form.widgets, outputs=self.outputs,
                                  show_progress_on=self.outputs[0], api_name=False)

    def new_grid(self, event, after_success: bool = False):
        """After `event` (after its success only, if asked), forget the selection (it described an
        image of the grid being replaced) and what a link said of the grid before."""
        return (event.success if after_success else event.then)(
            lambda: (0, "", "", "", ""), None, [*self.selection, self.link_status], show_progress="hidden",
            api_name=False)


SHOWN = 9  # what `view` returns: grid, legend, plot, table, ZIP, grid PNG, images, frame, run


def view(saved: ComparisonResult, run: Run, images: bool = True) -> tuple:
    """What the tab shows of a (possibly still streaming) saved result; without `images`, the API's
    gallery is left as it is (see `streamed`)."""
    frame = saved.frame
    return (grid_html.render(frame), legend(frame, run.comparison.images_per_cell), mean_scores(frame),
            results_table(frame), str(saved.zip_path), str(saved.folder / GRID_FILE),
            captioned_images(frame) if images else gr.skip(), frame, run)


def streamed(results: Iterator[ComparisonResult | gpu.Previews], run: Run) -> Generator[tuple, None, ComparisonResult | None]:
    """Each batch as the tab shows it (live previews of the next one above the grid as they come),
    then the last again with the image files (the API's gallery): sent with every batch, every
    image would be read and hashed into Gradio's cache again each time. Returns the last result
    (None when nothing was drawn)."""
    saved = None
    for value in results:
        if isinstance(value, gpu.Previews):
            yield (grid_html.render(saved.frame if saved else None, value.items), *[gr.skip()] * (SHOWN - 1))
            continue
        saved = value
        yield view(saved, run, images=False)
    if saved is not None:
        yield view(saved, run)
    return saved


def _outputs() -> tuple[list, dict]:
    """The grid and what goes with it, laid out under the form; (outputs of a generating event, others)."""
    parts = {"confusion": gr.Markdown(label="Warnings", elem_id="confusion-warning"),
             "link_status": gr.Markdown(elem_id="link-status"),
             "legend": gr.Markdown(label="Legend", elem_id="legend")}
    parts["grid"] = grid = gr.HTML(grid_html.EMPTY, css_template=grid_html.CSS, js_on_load=grid_html.SELECT_JS, elem_id="grid",
                   label="Grid: columns are prompts, rows are model x setting (click an image to enlarge and select it)")
    parts["gaps"] = gr.Dataframe(visible=False, interactive=False, elem_id="subgroup-gaps",
                                 label="Patient subgroups: each judge's mean per subgroup, and the largest gap "
                                 "(highest minus lowest mean) with its 95% interval")
    with gr.Row():
        parts["selected"] = gr.Number(label="Selected image #", precision=0, value=0, elem_id="selected")
        parts["note"] = gr.Textbox(label="Note (optional)", scale=2)
        parts["prefer"] = gr.Button("Prefer: log to library", elem_id="prefer")
        parts["rerun"] = gr.Button("Re-run its cell with new seeds", elem_id="rerun-cell")
        parts["full"] = gr.Button("Decode this draft in full", elem_id="decode-full")
    parts["prefer_status"] = gr.Markdown(elem_id="prefer-status")
    parts["details"] = gr.Markdown(elem_id="selected-details")
    plot = gr.BarPlot(x="cell", y=schema.PRIMARY_SCORE, color="template_id", title="Mean CLIP score per prompt x setting",
                      x_title="prompt column · guidance row (see legend)", y_title="CLIP score (0-100)",
                      x_label_angle=-30, label="Mean CLIP score per cell", elem_id="mean-plot")
    table = gr.Dataframe(pd.DataFrame(columns=[*TABLE_KEYS, schema.PRIMARY_SCORE, "prompt"]), interactive=False,
                         label="Results: one row per image, every judge's scores (press Generate to fill it)",
                         elem_id="results")
    with gr.Row():
        download = gr.File(label="Download: images, results.csv and the grid PNG (ZIP)", elem_id="download")
        grid_png = gr.File(label="Download: the labelled grid (PNG)", elem_id="grid-png")
    # for the API: each image with its number, in the table's order (the page shows them in the grid)
    images = gr.Gallery(label="Images", visible=False, elem_id="images")
    parts["link"] = compare_link.build()
    parts["result"], parts["run"], parts["linked"] = gr.State(), gr.State(), gr.State(False)
    return [grid, parts["legend"], plot, table, download, grid_png, images, parts["result"], parts["run"]], parts


class Handlers:
    """The tab's handlers, thin over the workflow: what the grid is drawn from (runtime, templates,
    the judges' context) is fixed when the app is built."""

    def __init__(self, form: FormWidgets, templates: TemplateSet, curated: Curated) -> None:
        self.form, self.runtime, self.templates, self.curated = form, form.runtime, templates, curated
        self.context = Context(curated, form.runtime.offline)
        self.cost = compare_cost.Cost(form, templates)
        self._drawing: set[str] = set()  # sessions whose grid is being drawn (generate, re-run, decode)

    @contextmanager
    def drawing(self, request: gr.Request | None, refuse: bool = False) -> Iterator[None]:
        """While a session's grid is drawn; with `refuse`, a second drawing of the same grid (a
        Re-run or Decode pressed while Generate still runs) is refused in a sentence: both would
        write the grid, and the later one would drop the other's images."""
        session = request.session_hash if request is not None else None
        if refuse and session in self._drawing:
            raise PlaygroundError("This grid is still being drawn: wait for it to finish (or press Stop), then try "
                                  "again.")
        self._drawing.add(session)
        try:
            yield
        finally:
            self._drawing.discard(session)

    @user_errors
    def generate(self, request: gr.Request, progress=gr.Progress(), **fields):
        """Generate the grid, streaming: each batch appears as soon as it is drawn and judged.
        Keywords: the form's fields (see README "The /compare endpoint")."""
        form = CompareForm.from_fields(fields)
        comparison, judges = form.resolve(self.templates, self.runtime)
        estimate = budget.estimate(comparison, judges)
        drawing = gpu.each(stream_to_folder, comparison, judges, context=self.context, progress=progress,
                           request=request, seconds=estimate.zerogpu_seconds, previews=True)
        with self.drawing(request):
            saved = yield from streamed(drawing, Run(comparison, judges))
        drawn = len(saved.frame) if saved else 0
        if saved is not None:
            self.cost.ran(request, form, estimate.seconds, saved.seconds, drawn)
        if drawn < comparison.n_images:  # Stop was pressed: say so, and what was kept
            gr.Info(f"Stopped after {drawn} of {comparison.n_images} images, as asked: those are saved (grid, "
                    "table and ZIP); nothing more was drawn.")

    @user_errors
    def rerun(self, frame: pd.DataFrame | None, run: Run | None, image: float | None, request: gr.Request,
              progress=gr.Progress()):
        """Redraw the cell of image number `image` (from 1) with new seeds; the rest of the grid stays."""
        if frame is None or frame.empty or run is None:
            raise PlaygroundError("Generate a comparison first, then pick an image whose cell to redraw.")
        picked = frame.iloc[image_position(len(frame), image)]
        row, column = int(picked["row"]), int(picked["column"])
        with self.drawing(request, refuse=True):
            yield from streamed(gpu.each(rerun_cell, run.comparison, shown_grid(frame), row, column, run.judges,
                                         context=self.context, progress=progress, request=request,
                                         seconds=budget.cell(run.comparison, row, run.judges), previews=True), run)

    @user_errors
    def decode_full(self, frame: pd.DataFrame | None, run: Run | None, image: float | None, request: gr.Request,
                    progress=gr.Progress()):
        """Draw draft number `image` (from 1) again with its model's VAE, judged and saved over the draft."""
        if frame is None or frame.empty or run is None:
            raise PlaygroundError("Generate a comparison first, then pick a draft to decode in full.")
        position = image_position(len(frame), image)
        with self.drawing(request, refuse=True):
            yield from streamed(gpu.each(decode_in_full, run.comparison, shown_grid(frame), position, run.judges,
                                         context=self.context, progress=progress, request=request,
                                         seconds=budget.cell(run.comparison, int(frame["row"].iloc[position]),
                                                             run.judges)), run)

    @user_errors
    def prefer(self, frame: pd.DataFrame | None, image: float | None, note: str = "",
               request: gr.Request | None = None) -> str:
        """Log image number `image` (from 1) to the library, or add the visitor's one vote to its record."""
        if frame is None or frame.empty:
            raise PlaygroundError("Generate a comparison first, then pick an image to prefer.")
        row = frame.iloc[image_position(len(frame), image)].to_dict()
        if row.get("decoder") == "fast":
            raise PlaygroundError(f"Image #{int(image or 0)} is a draft (fast decoder): press \u201cDecode this draft "
                                  "in full\u201d first, then prefer the full image.")
        return vote_said(prefer_row(row, note or "", voter=voter_of(request)))

    @staticmethod
    def reselect(frame: pd.DataFrame | None, image: float | None) -> tuple[str, str]:
        """The selected image's details again (after its cell was redrawn), and no stale Prefer message."""
        return _described(frame, int(image or 0)), ""

    @staticmethod
    def select_image(frame: pd.DataFrame | None, evt: gr.EventData) -> tuple[int, str]:
        number = int(getattr(evt, "position", -1)) + 1  # the grid sends the frame position
        described = _described(frame, number)
        return (number if described else 0), described

    @user_errors
    def warn(self, **fields) -> str:
        """Before any image is drawn: the form is checked (a mistake is one message, and the grid
        shown stays), then prompts nearer a known confuser than their subject, and free prompts
        that do not name the subject."""
        form = CompareForm.from_fields(fields)
        form.resolve(self.templates, self.runtime)  # raises the sentence generate would
        scorer = form.scorer or self.runtime.scorers[0]
        columns = [c for c in (column_of(t, p, form.subject, self.templates, form.filled_for)
                               for t, p in form.columns) if c]
        found = [*confusion_warnings(form.subject, columns, scorer, self.curated, self.templates),
                 *form.notes(self.templates)]
        return "\n".join(f"- ⚠ {text(w)}" for w in found)

    @user_errors
    def restore_png(self, path: str | None) -> dict:
        """A dropped PNG's settings fill the tab (the playground's own PNGs, or AUTOMATIC1111's)."""
        if not path:
            return {}
        try:
            parameters = read_parameters(Path(path))  # its own sentences for what is no PNG of ours
        except OSError:
            raise PlaygroundError("This file could not be read; drop a PNG saved by the playground or by "
                                  "AUTOMATIC1111.") from None
        restored = from_parameters(parameters, self.templates, self.runtime.models)
        return {**restore(self.form, restored), self.form.png_status: f"Restored from {text(restored.label)}."}


def subgroup_gaps(frame: pd.DataFrame | None) -> dict:
    """The table under the grid, shown only for a grid drawn with the patient-subgroup axis."""
    table = shown_gaps(frame)
    return gr.update(value=table, visible=not table.empty)


def shown_grid(frame: pd.DataFrame) -> ComparisonResult:
    """The grid on screen as a saved result: its frame, its images read back, its folder."""
    return ComparisonResult(frame, images_of(frame), folder=Path(frame["image_path"].iloc[0]).parent)


def _described(frame: pd.DataFrame | None, number: int) -> str:
    """Image `number`'s details (counted from 1), or "" when the grid has no such image."""
    if frame is None or not 1 <= number <= len(frame):
        return ""
    return details(frame.iloc[number - 1], number)


def restore(form: FormWidgets, filled: CompareForm) -> dict:
    """Widget values for `filled` (a Gradio event may return this dict); a model not offered here
    is refused with a sentence."""
    for model in filled.models:
        if model not in form.runtime.models:
            raise PlaygroundError(f"{filled.label or 'This'} was made with {model!r}, which is not offered here "
                                  f"({', '.join(form.runtime.models)}).")
    return form.values(filled)


def build(runtime: Runtime, templates: TemplateSet, curated: Curated) -> CompareTab:
    """Lay out the Compare tab inside the current Blocks and wire its events."""
    form = compare_form.layout(runtime, templates)
    outputs, parts = _outputs()
    handlers = Handlers(form, templates, curated)
    selection = [parts["selected"], parts["details"], parts["note"], parts["prefer_status"]]
    tab = CompareTab(form, handlers, outputs, parts["result"], selection, parts["link"], parts["link_status"],
                     parts["linked"])
    compare_form.wire(form, templates)
    compare_cost.wire(handlers.cost, form.cost)
    checked = compare_form.sync_prompts(form, templates, form.generate.click).then(
        handlers.warn, inputs_kwargs=form.widgets, outputs=parts["confusion"], show_progress="hidden",
        api_name="confusion_warnings")
    tab.new_grid(checked, after_success=True).then(  # a mistake in the form stops here, the grid stays
        handlers.generate, inputs_kwargs=form.widgets, outputs=outputs, show_progress_on=parts["grid"],
        api_name="compare").then(  # one progress bar, on the grid; then its time beside its estimate
        handlers.cost.describe, inputs_kwargs=form.widgets, outputs=form.cost, show_progress="hidden", api_name=False)
    for button, handler, api_name in (("rerun", handlers.rerun, "rerun_cell"),
                                      ("full", handlers.decode_full, "decode_in_full")):
        parts[button].click(handler, [parts["result"], parts["run"], parts["selected"]], outputs,
                            show_progress_on=parts["grid"], api_name=api_name).then(
            handlers.reselect, [parts["result"], parts["selected"]], [parts["details"], parts["prefer_status"]],
            show_progress="hidden", api_name=False)  # the selected image was redrawn: describe the new one
    form.stop.click(gpu.stop, None, None, queue=False, api_name=False)  # the running grid ends at its next step
    parts["grid"].click(handlers.select_image, parts["result"], [parts["selected"], parts["details"]], api_name=False)
    parts["prefer"].click(handlers.prefer, [parts["result"], parts["selected"], parts["note"]], parts["prefer_status"],
                          api_name="prefer")
    form.png.upload(handlers.restore_png, form.png, [*form.components(), form.png_status], api_name="restore_png")
    parts["result"].change(subgroup_gaps, parts["result"], parts["gaps"], show_progress="hidden", api_name=False)
    refine_panel.build(parts["result"], parts["run"], parts["selected"], handlers.context)
    search_panel.build(form, runtime, templates, handlers.context)
    return tab
