"""The Study tab: blinded rating of a sweep, one condition at a time, and the statistics so far.

Raters see up to 4 images of a prompt condition and nothing of its prompt or settings; they rate
style and content on the 0-4 scale and may mark the best image; a run that asks the checklist
shows its questions too (yes, no or unsure each; ui/study_checklist.py). Sweeps appear here when
written to PLAYGROUND_HOME/runs/NAME (see README), and the grid shown in Compare becomes a run in one click,
listed only in the browser that made it. A rater's first start hands out a rater key, which the
browser keeps (gr.BrowserState) and resuming or rating needs. The original study's statistics (its
shipped ratings) are shown from the start.

Every button first checks its input with no outputs (a mistake is one message and nothing on the
page changes), then runs its handler, which checks again for API callers.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd
from PIL import Image

from .. import limits
from ..config import get_settings
from ..errors import PlaygroundError
from ..research import access, calibration, informative_order
from ..research.study import (
    SCALE,
    RatingSession,
    check_result,
    run_from_result,
)
from ..research.study_report import original_study
from ..stats import SUMMARY_COLUMNS
from ..types import MAX_SEED
from . import study_checklist
from .common import user_errors
from .compare import CompareTab

SCALE_CHOICES = [(f"{value}: {label}", value) for value, label in SCALE.items()]
ORDER_CHOICES = [("random", "random"), ("judges disagree most first", "disagreement"),
                 ("checklist judge least sure first", "uncertainty")]  # informative_order.ORDERS
AGREEMENT_HEADERS = ["Judge", "Compared with", "Spearman's rho", "95% interval", "Pairs", "Note"]
KEY_NOTE = ("**Your rater key: `{}`** (shown only now). This browser keeps it for every run; write it down to "
            "resume from another browser (paste it under Rater key).")


def best_choices(shown: int) -> list[tuple[str, int]]:
    """"Best image" choices for `shown` images: none, or one of those shown."""
    return [("no best image", -1)] + [(f"image {i}", i - 1) for i in range(1, shown + 1)]


def _session(run: str | None, seed: float | None, run_keys: object) -> RatingSession:
    """The run this visitor may open (an operator's, or one of its own by `run_keys`), checked."""
    folder = access.open_run(run, access.checked_keys(run_keys))
    return RatingSession(folder, limits.whole_number(seed, "The session seed", 0, MAX_SEED))


@user_errors
def shown_runs(key: str | None, kept: str | None, run_keys: object = None) -> tuple:
    """On opening the tab: the rater key this browser keeps, and the runs this visitor may rate."""
    return key or kept or "", gr.Dropdown(choices=access.visible_runs(access.checked_keys(run_keys)))


@user_errors
def check_compare(frame: pd.DataFrame | None, run_keys: object = None, checklist: bool = False,
                  order: str = "random") -> None:
    check_result(frame)
    access.checked_keys(run_keys)
    informative_order.checked(order)


@user_errors
def rate_compare(frame: pd.DataFrame | None, run_keys: object = None, checklist: bool = False,
                 order: str = "random") -> tuple:
    """The grid in Compare as a new run, private to this browser (its key joins `run_keys`); its
    raters answer the checklist too when asked, in `order` (random, or most informative first)."""
    keys, key = access.checked_keys(run_keys), access.new_key()
    order = informative_order.checked(order)
    name = run_from_result(frame, owner_key=key)
    session = RatingSession(get_settings().runs_dir / name)
    session.ask_checklist(bool(checklist))
    session.choose_order(order)
    keys = access.remember(keys, name, key)
    return gr.Dropdown(choices=access.visible_runs(keys), value=name), (
        f"The grid in Compare is now run `{name}` ({len(frame)} images), listed only in this browser. Type your "
        "rater name and press Start / resume."), keys


def show_original() -> tuple:
    study = original_study()
    with Image.open(study.boxplot) as image:
        return study.summary, image.copy(), study.note  # the cache folder is not served


def show(session: RatingSession, rater: str) -> tuple:
    """The rater's next condition: header, images, its key, "Best image" choices to match, and the
    rating panel (shown only while there is a condition to rate)."""
    item = session.next_item(rater)
    if item is None:
        return ("**All conditions rated.** Thank you! Show the statistics below.", [], None,
                gr.Radio(best_choices(0), value=-1), gr.Row(visible=False))
    header = (f"**Condition {item.number} of {item.total}.** Rate what you see; the prompt and settings "
              "are hidden on purpose.")
    return (header, [(str(path), f"image {i}") for i, path in enumerate(item.images, start=1)], item.key,
            gr.Radio(best_choices(len(item.images)), value=-1), gr.Row(visible=True))


@user_errors
def check_start(run: str, seed: float, rater: str, rater_key: str | None = None, run_keys: object = None) -> None:
    _session(run, seed, run_keys).sign_in(rater, rater_key, register=False)


@user_errors
def start(run: str, seed: float, rater: str, rater_key: str | None = None, run_keys: object = None) -> tuple:
    """Start or resume: a new name gets a rater key (shown once, kept by the browser); a known name
    needs its key."""
    session = _session(run, seed, run_keys)
    signed = session.sign_in(rater, rater_key)
    header, *shown = show(session, signed.name)
    if signed.new_key:
        header = f"{KEY_NOTE.format(signed.key)}\n\n{header}"
    return header, *shown, signed.key, signed.key


@user_errors
def checklist_shown(run: str, seed: float, run_keys: object = None, current: str | None = None) -> gr.Dataframe:
    """The checklist of the condition shown (hidden when the run asks none)."""
    return study_checklist.shown(_session(run, seed, run_keys).questions(current) if current else [])


def _rating(run: str, seed: float, rater: str, rater_key: str | None = None, run_keys: object = None,
            current: str | None = None, style: int | None = None, content: int | None = None,
            best: int | None = None, checklist: pd.DataFrame | None = None) -> tuple:
    """The session, the rater's name and the rating, checked; the sentence that says what is wrong.
    (`current`, the condition shown, is the page's state: an API caller's comes from its /study_start.)"""
    if not current:
        raise PlaygroundError("Start (or resume) the session first.")
    session = _session(run, seed, run_keys)
    name = session.signed_in(rater, rater_key)
    best = None if best in (None, -1) else best
    answers = study_checklist.answers(checklist, session.questions(current))
    session.check(name, current, style, content, best, answers)
    return session, name, current, style, content, best, answers


@user_errors
def check_rating(*rating) -> None:
    _rating(*rating)


@user_errors
def submit(run: str, seed: float, rater: str, rater_key: str | None = None, run_keys: object = None,
           current: str | None = None, style: int | None = None, content: int | None = None,
           best: int | None = None, checklist: pd.DataFrame | None = None) -> tuple:
    """Store the rating (and the checklist answers, when the run asks them) and show the next
    condition (the rating widgets cleared)."""
    session, name, *checked = _rating(run, seed, rater, rater_key, run_keys, current, style, content, best, checklist)
    session.rate(name, *checked)
    return *show(session, name), None, None


@user_errors
def check_statistics(run: str, seed: float, run_keys: object = None) -> None:
    _session(run, seed, run_keys).rated()


@user_errors
def statistics(run: str, seed: float, run_keys: object = None) -> tuple:
    session = _session(run, seed, run_keys)
    found, checklist = session.report(), calibration.report(session)
    with Image.open(found.boxplot) as image, Image.open(found.agreement_plot) as heatmap:
        return (found.summary, image.copy(), found.note, agreement_view(found.agreement),
                heatmap.copy(), gr.Column(visible=True),  # the run folder is not served
                *study_checklist.calibration_view(checklist))


def agreement_view(agreement: pd.DataFrame) -> pd.DataFrame:
    """The judge-agreement table in plain words, made for the page only (agreement.csv keeps the numbers)."""
    rows = [(r.judge, f"experts' {r.compared_with} ratings" if r.comparison == "judge vs experts" else r.compared_with,
             "" if pd.isna(r.rho) else f"{r.rho:.2f}", "" if pd.isna(r.ci_low) else f"{r.ci_low:.2f} to {r.ci_high:.2f}",
             r.n, r.note) for r in agreement.itertuples()]  # a blank says why in its note
    return pd.DataFrame(rows, columns=AGREEMENT_HEADERS)


def _layout() -> dict:
    """The tab's widgets by name (inside the current `gr.Tab`)."""
    w: dict = {}
    with gr.Accordion("The original study's statistics", open=True):
        w["original_note"] = gr.Markdown(elem_id="original-study-note")
        w["original_plot"] = gr.Image(label="The original study: ratings per category", type="pil", show_label=False,
                                      buttons=["fullscreen"], elem_id="original-study-plot")  # the figure has its titles
        w["original_summary"] = gr.Dataframe(pd.DataFrame(columns=SUMMARY_COLUMNS), interactive=False,
                                             elem_id="original-study-summary",
                                             label="The original study: median and IQR per category")
    with gr.Row():
        w["run"] = gr.Dropdown(access.visible_runs(), label="Run to rate", elem_id="study-run",
                               allow_custom_value=True)  # checked by _session
        w["seed"] = gr.Number(value=0, precision=0, label="Session seed (same seed = same order per rater)")
        w["rater"] = gr.Textbox(label="Rater name", elem_id="study-rater")
        w["rater_key"] = gr.Textbox(label="Rater key (kept in this browser)", type="password", elem_id="study-rater-key",
                                    info="Given at your first start; paste it here to resume on another browser.")
        w["start_button"] = gr.Button("Start / resume", elem_id="study-start")
    with gr.Row():
        w["from_compare"] = gr.Button("Rate the grid shown in Compare (a new run)", elem_id="study-from-compare",
                                      scale=2)
        w["ask_checklist"] = gr.Checkbox(False, label="Raters answer the checklist too (yes / no / unsure)",
                                         elem_id="study-ask-checklist", scale=1)
        w["order"] = gr.Dropdown(ORDER_CHOICES, value="random", label="Order of the conditions", elem_id="study-order",
                                 scale=1)
    w["header"] = gr.Markdown("Choose a run, or make one from the grid in Compare; then type your name and press "
                              "**Start / resume**.", elem_id="study-header")
    _rating_layout(w)
    _statistics_layout(w)
    w["current"] = gr.State()
    secret = access.browser_secret()
    w["kept_key"] = gr.BrowserState("", storage_key="playground-study-rater-key", secret=secret)
    w["run_keys"] = gr.BrowserState({}, storage_key="playground-study-run-keys", secret=secret)
    return w


def _rating_layout(w: dict) -> None:
    """The images of one condition, whole (2 a row, as tall as they need), with the rating beside
    them (below them on a phone); hidden until a session starts."""
    with gr.Row(visible=False) as w["rating_panel"]:
        with gr.Column(scale=3, min_width=300):
            w["images"] = gr.Gallery(label="Images of one condition", show_label=False, columns=2, height="fit-content",
                                     object_fit="contain", fit_columns=False, buttons=["fullscreen"],
                                     elem_id="study-images")
        with gr.Column(scale=2, min_width=300):
            w["style"] = gr.Radio(SCALE_CHOICES, label="Style", elem_id="study-style")
            w["content"] = gr.Radio(SCALE_CHOICES, label="Content", elem_id="study-content")
            w["best"] = gr.Radio(best_choices(0), value=-1, label="Best image", elem_id="study-best")
            study_checklist.layout(w)
            w["submit_button"] = gr.Button("Submit and next", variant="primary", elem_id="study-submit")


def _statistics_layout(w: dict) -> None:
    """The statistics of the run's ratings, hidden until asked for (no empty boxes before)."""
    w["stats_button"] = gr.Button("Show statistics", elem_id="study-stats")
    w["stats_note"] = gr.Markdown(elem_id="study-stats-note")
    with gr.Column(visible=False) as w["stats_panel"]:
        _statistics_outputs(w)


def _statistics_outputs(w: dict) -> None:
    w["summary"] = gr.Dataframe(pd.DataFrame(columns=SUMMARY_COLUMNS), interactive=False, elem_id="study-summary",
                                label="Median and IQR per category")
    w["boxplot"] = gr.Image(label="Ratings per category", type="pil", show_label=False, buttons=["fullscreen"],
                            elem_id="study-boxplot")  # the figure has its titles
    w["agreement"] = gr.Dataframe(pd.DataFrame(columns=AGREEMENT_HEADERS), interactive=False, wrap=True,
                                  column_widths=["140px", "180px", "90px", "130px", "70px", "340px"], elem_id="study-agreement",
                                  label="Judge agreement: Spearman's rho (95% interval) of each judge with the experts "
                                  "and with each other judge")
    w["agreement_plot"] = gr.Image(label="Judge agreement (Spearman's rho)", type="pil", show_label=False,
                                   buttons=["fullscreen"], elem_id="study-agreement-plot")  # the figure has its title
    study_checklist.statistics_layout(w)


def _checked(trigger, check, handler, inputs: list, outputs: list, api_name: str) -> gr.events.Dependency:
    """Wire `trigger` so that a mistake is one message and every output keeps its value: `check`
    (no outputs) raises our sentence first and `handler` runs only after it passed. The endpoint
    `api_name` is `handler` alone, which checks again, so API callers get the same sentence."""
    return trigger(check, inputs, None, show_progress="hidden", api_name=False).success(
        handler, inputs, outputs, api_name=api_name)


def build(compare: CompareTab) -> None:
    """Lay out the Study tab (call inside `gr.Tabs`) and wire its events."""
    with gr.Tab("Study", id="study") as tab:
        w = _layout()
    tab.select(shown_runs, [w["rater_key"], w["kept_key"], w["run_keys"]], [w["rater_key"], w["run"]],
               api_name=False).then(
        show_original, None, [w["original_summary"], w["original_plot"], w["original_note"]], api_name="original_study")
    _checked(w["from_compare"].click, check_compare, rate_compare,
             [compare.result, w["run_keys"], w["ask_checklist"], w["order"]],
             [w["run"], w["header"], w["run_keys"]], "study_from_compare")
    who = [w[name] for name in ("run", "seed", "rater", "rater_key", "run_keys")]
    shown = [w[name] for name in ("header", "images", "current", "best", "rating_panel")]
    checklist = ([w[name] for name in ("run", "seed", "run_keys", "current")], w["checklist"])
    _checked(w["start_button"].click, check_start, start, who, [*shown, w["rater_key"], w["kept_key"]],
             "study_start").success(checklist_shown, *checklist, api_name=False)
    rating = [w[name] for name in ("style", "content", "best", "checklist")]
    _checked(w["submit_button"].click, check_rating, submit, [*who, w["current"], *rating],
             [*shown, w["style"], w["content"]], "study_rate").success(checklist_shown, *checklist, api_name=False)
    _checked(w["stats_button"].click, check_statistics, statistics, [w["run"], w["seed"], w["run_keys"]],
             [w[name] for name in ("summary", "boxplot", "stats_note", "agreement", "agreement_plot", "stats_panel",
                                   "calibration", "reliability", "calibration_note", "calibration_panel")],
             "study_stats")
