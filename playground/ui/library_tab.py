"""The Library tab: find, rank and reuse preferred prompts; export and import them.

Every value shown comes from `library.Library.to_frame`; user text (prompts, notes, tags) is
shown in a table and captions as plain text, never as HTML.
"""

from __future__ import annotations

import math
from pathlib import Path

import gradio as gr
import pandas as pd

from ..errors import PlaygroundError
from ..library import EXPORT_FORMATS, SORTS, Library, open_library
from ..restore import from_record
from ..startup import Runtime
from ..templates import TemplateSet
from .common import user_errors
from .compare import CompareInputs

TABLE_COLUMNS = [
    "id", "votes", "score", "subject", "modality", "template_id", "prompt", "negative_prompt", "model_id",
    "scheduler", "steps", "guidance_scale", "seed", "tags", "note", "created",
]


def view(text: str, modality: str, template_id: str, model_id: str, tag: str, sort: str) -> tuple[list, pd.DataFrame]:
    """Thumbnails and table of the records matching the filters."""
    library = Library()
    frame = library.to_frame(text or "", modality or "", template_id or "", model_id or "", (tag or "").strip(), sort)
    thumbnails = [(str(path), f"#{row.id} · {row.votes} votes · {row.prompt}")
                  for row, path in zip(frame.itertuples(), library.image_paths(frame)) if path]
    table = frame.assign(tags=frame["tags"].map(", ".join), score=frame["score"].round(2))
    return thumbnails, table[TABLE_COLUMNS]


def _record_id(value: float | None) -> int:
    if value is None or not math.isfinite(value) or value != int(value) or value < 1:
        raise PlaygroundError(f"Type a record number (the id column), got {value}.")
    return int(value)


def _picked_record(evt: gr.SelectData) -> int:
    """The record id from a clicked thumbnail's caption ("#12 · 3 votes · ...")."""
    return int(evt.value["caption"].split()[0][1:])


def build(runtime: Runtime, templates: TemplateSet, compare_inputs: CompareInputs, tabs: gr.Tabs) -> gr.Tab:
    """Lay out the Library tab (call inside `gr.Tabs`) and wire it, including "open in Compare"."""
    modalities = sorted({t.modality for t in templates})

    @user_errors
    def upvote(record_id: float) -> str:
        record = _record_id(record_id)
        return f"Record #{record} has {open_library().upvote(record)} votes."

    @user_errors
    def open_in_compare(record_id: float) -> dict:
        request = from_record(Library().get(_record_id(record_id)), templates)
        return {**compare_inputs.restore(request), tabs: gr.Tabs(selected="compare")}

    @user_errors
    def export(fmt: str) -> str:
        return str(Library().export_for_download(fmt))

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
        refresh = gr.Button("Search", elem_id="library-refresh")
        gallery = gr.Gallery(label="Preferred images", columns=6, height=260, elem_id="library-gallery")
        table = gr.Dataframe(label="Records", interactive=False, wrap=True, elem_id="library-table")
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

    filters = [text, modality, template, model, tag, sort]
    views = [gallery, table]
    refresh.click(view, filters, views, api_name="library_view")
    for event in (tab.select, sort.change, modality.change, template.change, text.submit, tag.submit):
        event(view, filters, views, api_name=False)
    upvote_button.click(upvote, record_id, status, api_name="library_upvote").then(view, filters, views, api_name=False)
    open_button.click(open_in_compare, record_id, [*compare_inputs.components(), tabs], api_name="library_open")
    export_button.click(export, fmt, exported, api_name="library_export")
    upload.upload(import_file, upload, status, api_name="library_import").then(view, filters, views, api_name=False)
    gallery.select(_picked_record, None, record_id, api_name=False)
    return tab
