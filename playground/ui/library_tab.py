"""The Library tab: find, rank and reuse preferred prompts; export and import them.

Every value shown comes from `library.Library.page`, one page at a time, however large the
library; user text (prompts, notes, tags) is shown in a table and captions as plain text, never
as HTML.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from .. import limits
from ..config import get_settings
from ..errors import PlaygroundError
from ..stores.arena import KINDS, open_arena
from ..stores.library import EXPORT_FORMATS, PAGE_SIZES, SORTS, Library, open_library
from ..restore import from_record
from ..startup import Runtime
from ..templates import TemplateSet
from .arena_tab import leaderboard_table, leaderboard_view
from .common import user_errors
from .compare import CompareInputs

TABLE_COLUMNS = {  # column -> width, so no header is squeezed into a letter per line
    "id": "60px", "votes": "70px", "score": "70px", "subject": "170px", "modality": "140px", "template_id": "170px",
    "prompt": "320px", "negative_prompt": "220px", "model_id": "140px", "scheduler": "100px", "steps": "70px",
    "guidance_scale": "130px", "seed": "70px", "tags": "130px", "note": "170px", "created": "190px",
}


@user_errors
def view(text: str, modality: str, template_id: str, model_id: str, tag: str, sort: str, page: float = 1,
         page_size: float = PAGE_SIZES[0]) -> tuple[list, pd.DataFrame, int, str]:
    """One page of thumbnails and table rows of the records matching the filters, the page shown,
    and where it is ("Page 2 of 7 · 130 records")."""
    library = Library()
    filters = dict(text=text or "", modality=modality or "", template_id=template_id or "", model_id=model_id or "",
                   tag=(tag or "").strip())
    listing = library.page(page, page_size, sort, **filters)
    frame = listing.frame
    thumbnails = [(str(path), f"#{row.id} · {row.votes} votes · {row.prompt}")
                  for row, path in zip(frame.itertuples(), library.image_paths(frame)) if path]
    table = frame.assign(tags=frame["tags"].map(", ".join), score=frame["score"].round(2))
    where = listing.where if len(frame) else "No records match. Prefer an image in Compare, or import a JSONL export below."
    return thumbnails, table[list(TABLE_COLUMNS)], listing.number, where


def _picked_record(evt: gr.SelectData) -> int:
    """The record id from a clicked thumbnail's caption ("#12 · 3 votes · ...")."""
    return int(evt.value["caption"].split()[0][1:])


def build(runtime: Runtime, templates: TemplateSet, compare_inputs: CompareInputs, tabs: gr.Tabs) -> gr.Tab:
    """Lay out the Library tab (call inside `gr.Tabs`) and wire it, including "open in Compare"."""
    modalities = sorted({t.modality for t in templates})

    @user_errors
    def upvote(record_id: float) -> str:
        votes = open_library().upvote(record_id)  # checks the number first
        return f"Record #{int(record_id)} has {votes} votes."

    @user_errors
    def open_in_compare(record_id: float) -> dict:
        request = from_record(Library().get(record_id), templates)
        return {**compare_inputs.restore(request), tabs: gr.Tabs(selected="compare")}

    @user_errors
    def export(fmt: str) -> str:
        return str(Library().export_for_download(fmt))

    @user_errors
    def export_leaderboard(kind: str) -> str:
        outputs = get_settings().outputs_dir  # served, like the library's own exports
        outputs.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="leaderboard-", dir=outputs))
        return str(open_arena().export(folder / f"arena-{kind}-leaderboard.csv", kind))

    @user_errors
    def import_file(path: str | None) -> str:
        if not path:
            raise PlaygroundError("Choose a .jsonl file exported from a prompt library first.")
        if not str(path).endswith(".jsonl"):
            raise PlaygroundError("Only JSONL exports can be imported (a file ending in .jsonl).")
        added, merged = Library().import_jsonl(Path(path))
        return f"Imported: {added} new records, {merged} already known (votes merged)."

    with gr.Tab("Library", id="library") as tab:
        with gr.Row():
            text = gr.Textbox(label="Search prompt, subject, note, tags", scale=3, elem_id="library-search")
            modality = gr.Dropdown([""] + modalities, value="", label="Modality")
            template = gr.Dropdown([""] + templates.ids(), value="", label="Template")
            model = gr.Dropdown([""] + list(runtime.models), value="", label="Model", allow_custom_value=True)
            tag = gr.Textbox(label="Tag")
            sort = gr.Radio(list(SORTS), value="votes", label="Sort by")
        with gr.Row():
            refresh = gr.Button("Search", elem_id="library-refresh")
            previous = gr.Button("◀ Previous page", elem_id="library-previous", size="sm")
            page = gr.Number(value=1, precision=0, minimum=1, label="Page", elem_id="library-page", min_width=80)
            following = gr.Button("Next page ▶", elem_id="library-next", size="sm")
            page_size = gr.Dropdown(list(PAGE_SIZES), value=PAGE_SIZES[0], label="Per page", min_width=80)
        where = gr.Markdown(elem_id="library-where")
        gallery = gr.Gallery(label="Preferred images", columns=6, height=260, elem_id="library-gallery")
        table = gr.Dataframe(label="Records", interactive=False, wrap=True, elem_id="library-table",
                             headers=list(TABLE_COLUMNS), column_widths=list(TABLE_COLUMNS.values()))
        with gr.Row():
            record_id = gr.Number(label="Record #", precision=0, elem_id="library-record")
            upvote_button = gr.Button("Upvote", elem_id="library-upvote")
            open_button = gr.Button("Open in Compare", elem_id="library-open")
        status = gr.Markdown(elem_id="library-status")
        with gr.Row():
            fmt = gr.Radio(list(EXPORT_FORMATS), value="csv", label="Export format")
            export_button = gr.Button("Export")
            exported = gr.File(label="Export", elem_id="library-export-file")
            upload = gr.File(label="Import a JSONL export", file_types=[".jsonl"], type="filepath")
        with gr.Row():
            board_kind = gr.Radio(list(KINDS), value="template", label="Leaderboard of", scale=1)
            board_export = gr.Button("Export the leaderboard (CSV)", scale=1)
            board_file = gr.File(label="Leaderboard", elem_id="library-leaderboard-file", scale=2, height=90)
        board = leaderboard_table("library-leaderboard")

    filters = [text, modality, template, model, tag, sort, page, page_size]
    views = [gallery, table, page, where]
    refresh.click(view, filters, views, api_name="library_view")
    for event in (tab.select, sort.change, modality.change, template.change, text.submit, tag.submit, page.submit,
                  page_size.change):
        event(view, filters, views, api_name=False)
    for button, step in ((previous, -1), (following, 1)):
        turn = user_errors(lambda p, step=step: max(1, limits.whole_number(p, "The page number", 1, 10**9) + step))
        button.click(turn, page, page, api_name=False).then(view, filters, views, api_name=False)
    upvote_button.click(upvote, record_id, status, api_name="library_upvote").then(view, filters, views, api_name=False)
    open_button.click(open_in_compare, record_id, [*compare_inputs.components(), tabs], api_name="library_open")
    export_button.click(export, fmt, exported, api_name="library_export")
    upload.upload(import_file, upload, status, api_name="library_import").then(view, filters, views, api_name=False)
    gallery.select(_picked_record, None, record_id, api_name=False)
    tab.select(leaderboard_view, board_kind, board, api_name=False)
    board_kind.change(leaderboard_view, board_kind, board, api_name=False)
    board_export.click(export_leaderboard, board_kind, board_file, api_name="leaderboard_export")
    return tab
