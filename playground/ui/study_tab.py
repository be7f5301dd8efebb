"""The Study tab: blinded rating of a sweep, one condition at a time, and the statistics so far.

Raters see 4 images of a prompt condition and nothing of its prompt or settings; they rate style
and content on the 0-4 scale and may mark the best image. Sweeps appear here when written to
PLAYGROUND_HOME/runs/NAME (see README), and the grid shown in Compare becomes a run in one click.
The original study's statistics (its shipped ratings) are shown from the start.
"""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr
import pandas as pd
from PIL import Image

from .. import limits
from ..comparison import MAX_SEED
from ..config import get_settings
from ..errors import PlaygroundError
from ..research.stats import AGREEMENT_COLUMNS, SUMMARY_COLUMNS
from ..research import stats
from ..research.study import SCALE, RatingSession, list_runs, run_from_result
from .common import user_errors
from .compare import CompareInputs

SCALE_CHOICES = [(f"{value}: {label}", value) for value, label in SCALE.items()]
BEST_CHOICES = [("no best image", -1)] + [(f"image {i}", i - 1) for i in range(1, 5)]


def _session(run: str | None, seed: float | None) -> RatingSession:
    if not run or run not in list_runs():
        raise PlaygroundError("Choose a sweep run to rate (runs live in PLAYGROUND_HOME/runs).")
    return RatingSession(get_settings().runs_dir / run, limits.whole_number(seed, "The session seed", 0, MAX_SEED))


@functools.cache
def original_study() -> tuple[pd.DataFrame, Path, str]:
    """The original study's medians and IQRs per category, its box plot and a sentence on it,
    computed once per process from the ratings shipped in prompt_library/study-data."""
    path = get_settings().original_study
    ratings = stats.read_ratings(path)
    files = stats.report(ratings, get_settings().home / "cache" / "original-study")
    boxplot = next(f for f in files if f.name == "boxplot.png")
    note = (f"**The original study** (GLIDE, Kather Lab 2022, MIT): {ratings['subject'].nunique()} prompts rated "
            f"for style and content on the 0-4 scale, {len(ratings)} ratings in all. Median and IQR per category; "
            "rate your own run below and press Show statistics to compare.")
    return stats.summarize(ratings).round(2), boxplot, note


def build(compare_inputs: CompareInputs) -> None:
    """Lay out the Study tab (call inside `gr.Tabs`) and wire its events."""

    @user_errors
    def rate_compare(frame: pd.DataFrame | None):
        name = run_from_result(frame)
        return gr.Dropdown(choices=list_runs(), value=name), (
            f"The grid in Compare is now run `{name}` ({len(frame)} images). Type your rater name and press "
            "Start / resume.")

    def show_original() -> tuple:
        summary, boxplot, note = original_study()
        with Image.open(boxplot) as image:
            return summary, image.copy(), note  # the cache folder is not served

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
        summary, boxplot, note, agreement = _session(run, seed).report()
        with Image.open(boxplot) as image, Image.open(boxplot.with_name("agreement.png")) as heatmap:
            return summary, image.copy(), note, agreement, heatmap.copy()  # the run folder is not served

    with gr.Tab("Study", id="study") as tab:
        with gr.Accordion("The original study's statistics", open=True):
            original_note = gr.Markdown(elem_id="original-study-note")
            original_plot = gr.Image(label="The original study: ratings per category", type="pil",
                                     elem_id="original-study-plot")
            original_summary = gr.Dataframe(pd.DataFrame(columns=SUMMARY_COLUMNS), interactive=False,
                                            elem_id="original-study-summary",
                                            label="The original study: median and IQR per category")
        with gr.Row():
            run = gr.Dropdown(list_runs(), label="Sweep run", elem_id="study-run", allow_custom_value=True)  # checked by _session
            seed = gr.Number(value=0, precision=0, label="Session seed (same seed = same order per rater)")
            rater = gr.Textbox(label="Rater name", elem_id="study-rater")
            start_button = gr.Button("Start / resume", elem_id="study-start")
        with gr.Row():
            from_compare = gr.Button("Rate the grid shown in Compare (a new run)", elem_id="study-from-compare")
        header = gr.Markdown("Choose a sweep run, or make one from the grid in Compare; then type your name and press "
                             "**Start / resume**.", elem_id="study-header")
        images = gr.Gallery(label="Images of one condition", columns=4, height=320, elem_id="study-images")
        with gr.Row():
            style = gr.Radio(SCALE_CHOICES, label="Style", elem_id="study-style")
            content = gr.Radio(SCALE_CHOICES, label="Content", elem_id="study-content")
            best = gr.Radio(BEST_CHOICES, value=-1, label="Best image", elem_id="study-best")
        submit_button = gr.Button("Submit and next", variant="primary", elem_id="study-submit")
        stats_button = gr.Button("Show statistics", elem_id="study-stats")
        stats_note = gr.Markdown(elem_id="study-stats-note")
        summary = gr.Dataframe(pd.DataFrame(columns=SUMMARY_COLUMNS), interactive=False, elem_id="study-summary",
                               label="Median and IQR per category (rate a few conditions, then Show statistics)")
        boxplot = gr.Image(label="Ratings per category", type="pil")
        agreement = gr.Dataframe(pd.DataFrame(columns=AGREEMENT_COLUMNS), interactive=False, elem_id="study-agreement",
                                 label="Judge agreement: Spearman's rho (95% CI) of each judge with the experts and "
                                 "with each other judge")
        agreement_plot = gr.Image(label="Judge agreement (Spearman's rho)", type="pil", elem_id="study-agreement-plot")
        current = gr.State()

    tab.select(lambda: gr.Dropdown(choices=list_runs()), None, run, api_name=False).then(
        show_original, None, [original_summary, original_plot, original_note], api_name="original_study")
    from_compare.click(rate_compare, compare_inputs.result, [run, header], api_name="study_from_compare")
    start_button.click(start, [run, seed, rater], [header, images, current], api_name="study_start")
    submit_button.click(submit, [run, seed, rater, current, style, content, best],
                        [header, images, current, style, content, best], api_name="study_rate")
    stats_button.click(statistics, [run, seed], [summary, boxplot, stats_note, agreement, agreement_plot],
                       api_name="study_stats")
