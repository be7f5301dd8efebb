"""The Study tab: blinded rating of a sweep, one condition at a time, and the statistics so far.

Raters see 4 images of a prompt condition and nothing of its prompt or settings; they rate style
and content on the 0-4 scale and may mark the best image. Sweeps appear here when written to
PLAYGROUND_HOME/runs/NAME (see README), and the grid shown in Compare becomes a run in one click.
The original study's statistics (its shipped ratings) are shown from the start.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd
from PIL import Image

from .. import limits
from ..config import get_settings
from ..errors import PlaygroundError
from ..research.study import (
    SCALE,
    RatingSession,
    list_runs,
    original_study,
    run_from_result,
)
from ..stats import AGREEMENT_COLUMNS, SUMMARY_COLUMNS
from ..types import MAX_SEED
from .common import user_errors
from .compare import CompareTab

SCALE_CHOICES = [(f"{value}: {label}", value) for value, label in SCALE.items()]
BEST_CHOICES = [("no best image", -1)] + [(f"image {i}", i - 1) for i in range(1, 5)]


def _session(run: str | None, seed: float | None) -> RatingSession:
    if not run or run not in list_runs():
        raise PlaygroundError("Choose a sweep run to rate (runs live in PLAYGROUND_HOME/runs).")
    return RatingSession(get_settings().runs_dir / run, limits.whole_number(seed, "The session seed", 0, MAX_SEED))


@user_errors
def rate_compare(frame: pd.DataFrame | None):
    name = run_from_result(frame)
    return gr.Dropdown(choices=list_runs(), value=name), (
        f"The grid in Compare is now run `{name}` ({len(frame)} images). Type your rater name and press "
        "Start / resume.")


def show_original() -> tuple:
    study = original_study()
    with Image.open(study.boxplot) as image:
        return study.summary, image.copy(), study.note  # the cache folder is not served


def show(session: RatingSession, rater: str) -> tuple:
    item = session.next_item(rater)
    if item is None:
        return "**All conditions rated.** Thank you! Show the statistics below.", [], None
    header = (f"**Condition {item.number} of {item.total}.** Rate what you see; the prompt and settings "
              "are hidden on purpose.")
    return header, [(str(path), f"image {i}") for i, path in enumerate(item.images, start=1)], item.key


@user_errors
def start(run: str, seed: float, rater: str) -> tuple:
    return show(_session(run, seed), rater)


@user_errors
def submit(run: str, seed: float, rater: str, key: str | None, style: int | None, content: int | None,
           best: int | None) -> tuple:
    if not key:
        raise PlaygroundError("Start (or resume) the session first.")
    if style is None or content is None:
        raise PlaygroundError("Rate both style and content before going on.")
    session = _session(run, seed)
    best = limits.whole_number(-1 if best is None else best, "The best image", -1, len(BEST_CHOICES) - 2)
    session.rate(rater, key, limits.whole_number(style, "The style rating", 0, 4),
                 limits.whole_number(content, "The content rating", 0, 4), None if best == -1 else best)
    return (*show(session, rater), None, None, -1)


@user_errors
def statistics(run: str, seed: float) -> tuple:
    found = _session(run, seed).report()
    with Image.open(found.boxplot) as image, Image.open(found.agreement_plot) as heatmap:
        return found.summary, image.copy(), found.note, found.agreement, heatmap.copy()  # the run folder is not served


def _layout() -> dict:
    """The tab's widgets by name (inside the current `gr.Tab`)."""
    w: dict = {}
    with gr.Accordion("The original study's statistics", open=True):
        w["original_note"] = gr.Markdown(elem_id="original-study-note")
        w["original_plot"] = gr.Image(label="The original study: ratings per category", type="pil", show_label=False,
                                 elem_id="original-study-plot")
        w["original_summary"] = gr.Dataframe(pd.DataFrame(columns=SUMMARY_COLUMNS), interactive=False,
                                        elem_id="original-study-summary",
                                        label="The original study: median and IQR per category")
    with gr.Row():
        w["run"] = gr.Dropdown(list_runs(), label="Sweep run", elem_id="study-run", allow_custom_value=True)  # checked by _session
        w["seed"] = gr.Number(value=0, precision=0, label="Session seed (same seed = same order per rater)")
        w["rater"] = gr.Textbox(label="Rater name", elem_id="study-rater")
        w["start_button"] = gr.Button("Start / resume", elem_id="study-start")
    with gr.Row():
        w["from_compare"] = gr.Button("Rate the grid shown in Compare (a new run)", elem_id="study-from-compare")
    w["header"] = gr.Markdown("Choose a sweep run, or make one from the grid in Compare; then type your name and press "
                         "**Start / resume**.", elem_id="study-header")
    w["images"] = gr.Gallery(label="Images of one condition", columns=4, height=320, elem_id="study-images")
    with gr.Row():
        w["style"] = gr.Radio(SCALE_CHOICES, label="Style", elem_id="study-style")
        w["content"] = gr.Radio(SCALE_CHOICES, label="Content", elem_id="study-content")
        w["best"] = gr.Radio(BEST_CHOICES, value=-1, label="Best image", elem_id="study-best")
    w["submit_button"] = gr.Button("Submit and next", variant="primary", elem_id="study-submit")
    w["stats_button"] = gr.Button("Show statistics", elem_id="study-stats")
    w["stats_note"] = gr.Markdown(elem_id="study-stats-note")
    w["summary"] = gr.Dataframe(pd.DataFrame(columns=SUMMARY_COLUMNS), interactive=False, elem_id="study-summary",
                           label="Median and IQR per category (rate a few conditions, then Show statistics)")
    w["boxplot"] = gr.Image(label="Ratings per category", type="pil", show_label=False)  # the figure has its titles
    w["agreement"] = gr.Dataframe(pd.DataFrame(columns=AGREEMENT_COLUMNS), interactive=False, elem_id="study-agreement",
                             label="Judge agreement: Spearman's rho (95% CI) of each judge with the experts and "
                             "with each other judge")
    w["agreement_plot"] = gr.Image(label="Judge agreement (Spearman's rho)", type="pil", elem_id="study-agreement-plot")
    w["current"] = gr.State()
    return w


def build(compare: CompareTab) -> None:
    """Lay out the Study tab (call inside `gr.Tabs`) and wire its events."""
    with gr.Tab("Study", id="study") as tab:
        w = _layout()
    tab.select(lambda: gr.Dropdown(choices=list_runs()), None, w["run"], api_name=False).then(
        show_original, None, [w["original_summary"], w["original_plot"], w["original_note"]], api_name="original_study")
    w["from_compare"].click(rate_compare, compare.result, [w["run"], w["header"]], api_name="study_from_compare")
    w["start_button"].click(start, [w["run"], w["seed"], w["rater"]], [w["header"], w["images"], w["current"]],
                            api_name="study_start")
    rating = [w[name] for name in ("style", "content", "best")]
    w["submit_button"].click(submit, [w["run"], w["seed"], w["rater"], w["current"], *rating],
                             [w["header"], w["images"], w["current"], *rating], api_name="study_rate")
    w["stats_button"].click(statistics, [w["run"], w["seed"]],
                            [w[name] for name in ("summary", "boxplot", "stats_note", "agreement", "agreement_plot")],
                            api_name="study_stats")
