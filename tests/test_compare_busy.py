"""A Re-run or Decode pressed while the same page's grid is still being drawn is refused in a
sentence (both would write the grid); other pages, and the same page afterwards, are not held up."""

from __future__ import annotations

import gradio as gr
import pandas as pd
import pytest

from playground.catalog.curated import load_curated
from playground.catalog.templates import load_templates
from playground.models.runtime import offline_runtime
from playground.ui import compare


@pytest.fixture(scope="module")
def handlers():
    with gr.Blocks():
        return compare.build(offline_runtime("tests run without the Hub"), load_templates(), load_curated()).handlers


def test_a_second_drawing_of_the_same_grid_is_refused_while_the_first_runs(handlers):
    page, other = gr.Request(session_hash="page"), gr.Request(session_hash="other")
    frame = pd.DataFrame({"row": [0], "column": [0], "image_path": ["x.png"]})
    with handlers.drawing(page):  # Generate is drawing this page's grid
        for pressed in (handlers.rerun, handlers.decode_full):
            with pytest.raises(gr.Error, match="still being drawn: wait for it to finish"):
                next(pressed(frame, object(), 1, page))
        with handlers.drawing(other, refuse=True):  # another page draws its own grid meanwhile
            pass
    with handlers.drawing(page, refuse=True):  # done: the page may draw again
        pass
