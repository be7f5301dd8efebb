"""A link that reopens a grid: "Copy link" puts the whole Compare form in a URL's query
(workflow.form_link); opening that URL fills the form and shows the grid from the image cache
when every image of it is there, or says what Generate would draw. The state is in the URL, so a
link outlives a restart; it is read and checked like any other input.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace

import gradio as gr

from ..errors import PlaygroundError
from ..render.markdown import text
from ..workflow import budget, form_link
from ..workflow.compare import stream_to_folder
from ..workflow.form import CompareForm
from . import gpu
from .common import user_errors

# Builds the page's own address around the query, so the link is the one the visitor sees (a
# Space serves the app inside a frame, behind a proxy the server does not know the name of).
TO_URL = """(query) => {
  if (!query) return "";
  const url = window.location.origin + window.location.pathname + query;
  if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
  return url;
}"""


def build() -> dict[str, gr.components.Component]:
    """The link's widgets under the grid: the button, the link itself (to copy by hand too) and
    the query the server made (hidden: the page builds the link around it)."""
    with gr.Row():
        button = gr.Button("Copy link", elem_id="copy-link", size="sm", scale=0, min_width=120)
        link = gr.Textbox(label="Link: opens this form, and its grid from the image cache", elem_id="share-link",
                          interactive=False, buttons=["copy"], max_lines=1, scale=4,
                          placeholder="Copy link puts the whole form in a URL")
    return {"button": button, "link": link, "query": gr.Textbox(visible=False)}


class Links:
    """The handlers: a form's link, and a page opened from one."""

    def __init__(self, tab) -> None:  # the Compare tab (ui.compare.CompareTab): its form, outputs and context
        self.tab = tab

    @user_errors
    def query(self, **fields) -> str:
        """The query that reopens the form as it is (a form that could not run gets no link)."""
        form = CompareForm.from_fields(fields)
        form.resolve(self.tab.handlers.templates, self.tab.runtime)
        return form_link.query(form)

    def open(self, request: gr.Request) -> dict:
        """A page opened from a link: its form filled in, and `linked` set, which looks for its
        grid (`show`). Any other page is left as it is."""
        if not form_link.is_link(request.query_params):
            return {self.tab.linked: False}  # unchanged: nothing is looked for
        try:
            form = form_link.form_of(str(request.query_params))
            values = self.tab.restore(replace(form, label="the link"))
        except PlaygroundError as exc:
            return {self.tab.linked: False, self.tab.link_status: f"⚠ This link could not be opened: {text(str(exc))}"}
        return values | {self.tab.linked: True, self.tab.link_status: "Opened from a link: looking for its grid in "
                                                                      "the image cache…"}

    def show(self, request: gr.Request, progress=gr.Progress(), **fields) -> Generator[tuple, None, None]:
        """After `open`: the link's grid from the image cache when all of it is there (nothing is
        drawn), else a sentence offering Generate."""
        try:
            comparison, judges = CompareForm.from_fields(fields).resolve(self.tab.handlers.templates, self.tab.runtime)
            found = None
            for found in gpu.each(stream_to_folder, comparison, judges, context=self.tab.handlers.context,
                                  progress=progress, request=request, cached_only=True,
                                  seconds=budget.from_cache(comparison, judges)):
                pass
        except PlaygroundError as exc:
            yield (*[gr.skip()] * len(self.tab.outputs), f"⚠ The link's grid could not be shown: {text(str(exc))}")
            return
        have = len(found.frame) if found is not None else 0
        if have < comparison.n_images:
            yield (*[gr.skip()] * len(self.tab.outputs),
                   f"Opened from a link. {have} of its {comparison.n_images} images are in this server's image cache: "
                   "press **Generate** to draw the grid (the cost is under the button).")
            return
        yield (*self.tab.view(found, comparison, judges), f"Opened from a link: all {have} images of its grid came from the image cache "
                                       "(nothing was drawn).")


def wire(links: Links, parts: dict, demo: gr.Blocks) -> None:
    """Copy link, and the page load that opens a link."""
    tab = links.tab
    parts["button"].click(links.query, inputs_kwargs=tab.form.widgets, outputs=parts["query"], api_name="form_link").then(
        None, parts["query"], parts["link"], js=TO_URL, api_name=False)
    demo.load(links.open, None, [*tab.form.components(), tab.linked, tab.link_status], show_progress="hidden",
              api_name=False)
    tab.linked.change(links.show, inputs_kwargs=tab.form.widgets, outputs=[*tab.outputs, tab.link_status],
                      show_progress_on=tab.outputs[0], api_name=False)  # only a page opened from a link
