"""The Library tab: find, rank and reuse preferred prompts; export and import them.

Every value shown comes from `library.Library.page`, one page at a time, however large the
library; user text (prompts, notes, tags) is shown in a table and captions as plain text, never
as HTML.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from .. import limits
from ..catalog.templates import TemplateSet
from ..errors import PlaygroundError
from ..models.runtime import Runtime
from ..stores.arena_votes import KINDS, open_arena
from ..stores.library import (
    EXPORT_FORMATS,
    PAGE_SIZES,
    SCORE,
    SORTS,
    Library,
    open_library,
)
from ..workflow.restore import from_record
from .arena_tab import leaderboard_table, leaderboard_view
from .common import counted_already, styled, user_errors, voter_of
from .compare import CompareTab

TABLE_COLUMNS = {  # column -> width, so no header is squeezed into a letter per line
    "id": "60px", "votes": "70px", SCORE: "100px", "subject": "170px", "modality": "140px", "template_id": "170px",
    "prompt": "320px", "negative_prompt": "220px", "model_id": "140px", "scheduler": "100px", "steps": "70px",
    "guidance_scale": "130px", "seed": "70px", "tags": "130px", "note": "170px", "created": "190px",
}

# As many thumbnails a row as fit (Gradio's fixed 6 columns overflow a phone's width, cut off at its edge).
THUMBNAILS_CSS = ".grid-container { grid-template-columns: repeat(auto-fill, minmax(120px, 1fr)); }"


@user_errors
def view(text: str, modality: str, template_id: str, model_id: str, tag: str, sort: str, page: float = 1,
         page_size: float = PAGE_SIZES[0]) -> tuple[list, pd.DataFrame, int, str, list[int]]:
    """One page of thumbnails and table rows of the records matching the filters, the page shown,
    where it is ("Page 2 of 7 · 130 records"), and the record id of each thumbnail."""
    library = Library()
    filters = {"text": text or "", "modality": modality or "", "template_id": template_id or "",
               "model_id": model_id or "", "tag": (tag or "").strip()}
    listing = library.page(page, page_size, sort, **filters)
    frame = listing.frame
    shown = [(row, path) for row, path in zip(frame.itertuples(), library.image_paths(frame)) if path]
    thumbnails = [(str(path), f"#{row.id} · {row.votes} votes · {row.prompt}") for row, path in shown]
    table = frame.assign(tags=frame["tags"].map(", ".join), **{SCORE: frame[SCORE].round(2)})
    where = listing.where if len(frame) else "No records match. Prefer an image in Compare, or import a JSONL export below."
    return thumbnails, table[list(TABLE_COLUMNS)], listing.number, where, [int(row.id) for row, _ in shown]


def _picked_thumbnail(ids: list[int], evt: gr.SelectData) -> int:
    """The record of a clicked thumbnail."""
    return ids[evt.index]


def _picked_row(table: pd.DataFrame, evt: gr.SelectData) -> int:
    """The record of a clicked table row."""
    return int(table.iloc[evt.index[0]]["id"])


@user_errors
def upvote(record_id: float, request: gr.Request) -> str:
    logged = open_library().upvote(record_id, voter_of(request))  # checks the number first
    if logged.counted:
        return f"Record #{logged.id} has {logged.votes} votes."
    return counted_already(logged.id, logged.votes)


@user_errors
def export(fmt: str) -> str:
    return str(Library().export_for_download(fmt))


@user_errors
def export_leaderboard(kind: str) -> str:
    return str(open_arena().export_for_download(kind))


@user_errors
def import_file(path: str | None) -> str:
    if not path:
        raise PlaygroundError("Choose a .jsonl file exported from a prompt library first.")
    if not str(path).endswith(".jsonl"):
        raise PlaygroundError("Only JSONL exports can be imported (a file ending in .jsonl).")
    added, merged = Library().import_jsonl(Path(path))
    return (f"Imported: {added} new records, {merged} already known (left as they were: an import never changes "
            "votes).")


def _layout(runtime: Runtime, templates: TemplateSet) -> dict:
    """The tab's widgets by name (inside the current `gr.Tab`)."""
    w: dict = {}
    with gr.Row():
        w["text"] = gr.Textbox(label="Search prompt, subject, note, tags", scale=3, elem_id="library-search")
        w["modality"] = gr.Dropdown(["", *sorted({t.modality for t in templates})], value="", label="Modality")
        w["template"] = gr.Dropdown(["", *templates.ids()], value="", label="Template")
        w["model"] = gr.Dropdown(["", *runtime.models], value="", label="Model", allow_custom_value=True)
        w["tag"] = gr.Textbox(label="Tag")
        w["sort"] = gr.Radio(list(SORTS), value="votes", label="Sort by", scale=2)
    with gr.Row(equal_height=True):
        w["refresh"] = gr.Button("Search", elem_id="library-refresh")
        w["previous"] = gr.Button("◀ Previous page", elem_id="library-previous", size="sm")
        w["page"] = gr.Number(value=1, precision=0, minimum=1, label="Page", elem_id="library-page", min_width=80)
        w["next"] = gr.Button("Next page ▶", elem_id="library-next", size="sm")
        w["page_size"] = gr.Dropdown(list(PAGE_SIZES), value=PAGE_SIZES[0], label="Per page", min_width=80)
    w["where"] = gr.Markdown(elem_id="library-where")
    with styled(THUMBNAILS_CSS, "library-thumbnails"):
        w["gallery"] = gr.Gallery(label="Preferred images", columns=6, height=260, elem_id="library-gallery")
    w["table"] = gr.Dataframe(label="Records (click a row to pick it)", interactive=False, wrap=True,
                              elem_id="library-table", headers=list(TABLE_COLUMNS),
                              column_widths=list(TABLE_COLUMNS.values()))
    with gr.Row():
        w["record"] = gr.Number(label="Record #", precision=0, elem_id="library-record")
        w["upvote"] = gr.Button("Upvote", elem_id="library-upvote")
        w["open"] = gr.Button("Open in Compare", elem_id="library-open")
    w["status"] = gr.Markdown(elem_id="library-status")
    with gr.Row():
        w["format"] = gr.Radio(list(EXPORT_FORMATS), value="csv", label="Export format")
        w["export"] = gr.Button("Export")
        w["exported"] = gr.File(label="Export", elem_id="library-export-file")
        w["upload"] = gr.File(label="Import a JSONL export", file_types=[".jsonl"], type="filepath")
    with gr.Row():
        w["board_kind"] = gr.Radio(list(KINDS), value="template", label="Leaderboard of", scale=1)
        w["board_export"] = gr.Button("Export the leaderboard (CSV)", scale=1)
        w["board_file"] = gr.File(label="Leaderboard", elem_id="library-leaderboard-file", scale=2, height=90)
    w["board"] = leaderboard_table("library-leaderboard")
    w["ids"] = gr.State([])
    return w


def build(runtime: Runtime, templates: TemplateSet, compare: CompareTab, tabs: gr.Tabs) -> gr.Tab:
    """Lay out the Library tab (call inside `gr.Tabs`) and wire it, including "open in Compare"."""

    @user_errors
    def open_in_compare(record_id: float) -> dict:
        form = from_record(Library().get(record_id), templates)
        return {**compare.restore(form), tabs: gr.Tabs(selected="compare")}

    with gr.Tab("Library", id="library") as tab:
        w = _layout(runtime, templates)
    filters = [w[name] for name in ("text", "modality", "template", "model", "tag", "sort", "page", "page_size")]
    views = [w["gallery"], w["table"], w["page"], w["where"], w["ids"]]
    w["refresh"].click(view, filters, views, api_name="library_view")
    for event in (tab.select, w["sort"].change, w["modality"].change, w["template"].change, w["text"].submit,
                  w["tag"].submit, w["page"].submit, w["page_size"].change):
        event(view, filters, views, api_name=False)
    for button, step in ((w["previous"], -1), (w["next"], 1)):
        turn = user_errors(lambda p, step=step: max(1, limits.whole_number(p, "The page number", 1, 10**9) + step))
        button.click(turn, w["page"], w["page"], api_name=False).then(view, filters, views, api_name=False)
    w["upvote"].click(upvote, w["record"], w["status"], api_name="library_upvote").then(view, filters, views,
                                                                                        api_name=False)
    w["open"].click(open_in_compare, w["record"], [*compare.form.components(), tabs], api_name="library_open")
    w["export"].click(export, w["format"], w["exported"], api_name="library_export")
    w["upload"].upload(import_file, w["upload"], w["status"], api_name="library_import").then(
        view, filters, views, api_name=False)
    w["gallery"].select(_picked_thumbnail, w["ids"], w["record"], api_name=False)
    w["table"].select(_picked_row, w["table"], w["record"], api_name=False)
    tab.select(leaderboard_view, w["board_kind"], w["board"], api_name=False)
    w["board_kind"].change(leaderboard_view, w["board_kind"], w["board"], api_name=False)
    w["board_export"].click(export_leaderboard, w["board_kind"], w["board_file"], api_name="leaderboard_export")
    return tab
