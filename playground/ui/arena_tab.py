"""The Arena tab: two blind images of one subject and seed from two templates (or two models);
the visitor picks the better one or calls a tie, and the leaderboard (Bradley–Terry ratings per
modality, with their uncertainty) follows. The leaderboard is also shown in the Library tab.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..bradley_terry import LEADERBOARD_COLUMNS
from ..catalog.curated import Curated
from ..catalog.templates import TemplateSet
from ..errors import PlaygroundError
from ..models.registry import model_preset
from ..render.markdown import code, text
from ..stores.arena_votes import Pair, open_arena
from ..workflow import budget
from ..workflow.arena_pairs import check_draw, draw_pair, modalities, shown
from . import gpu
from .common import styled, user_errors
from .compare import CompareTab

CHOICES = {"left": "A is better", "tie": "Tie", "right": "B is better"}
# Gradio shows an image no larger than its pixels (object-fit: scale-down): a 64 px image would be a
# speck in its box. Scoped to the pair's wrapper, each image fills its box whole, scaled up or down.
IMAGES_CSS = ".image-frame img { object-fit: contain; width: 100%; height: 100%; }"
IMAGE_HEIGHT = 420


def leaderboard(kind: str = "template") -> pd.DataFrame:
    """The Arena's ratings of `kind`, rounded for reading."""
    return open_arena().leaderboard(kind).round({"rating": 0, "se": 0, "low": 0, "high": 0})


def leaderboard_view(kind: str = "template") -> gr.Dataframe:
    """The leaderboard table, with its label saying how to fill it when empty."""
    board = leaderboard(kind)
    label = (f"Arena leaderboard ({kind}s): Bradley–Terry rating (Elo scale, mean 1000) ± standard error, 95% interval"
             if len(board) else "Arena leaderboard: no votes yet (vote in the Arena tab)")
    return gr.Dataframe(board, label=label)


def leaderboard_table(elem_id: str) -> gr.Dataframe:
    """An empty leaderboard table with its real headers, filled by `leaderboard_view`."""
    return gr.Dataframe(pd.DataFrame(columns=LEADERBOARD_COLUMNS), interactive=False, elem_id=elem_id,
                        label="Arena leaderboard")


def check_vote(pair: Pair | None) -> None:
    """Before a vote: no pair (voted on already, or the next one still drawing) is one message."""
    if pair is None:
        raise PlaygroundError("There is no pair to vote on: wait for the next pair, or press New pair.")


@user_errors
def vote(pair: Pair | None, winner: str) -> tuple:
    """Record the vote, say which contestant was which, and forget the pair (it counts once)."""
    check_vote(pair)
    open_arena().vote(pair, winner)
    reveal = (f"Recorded: {CHOICES[winner]}. A was {code(pair.left)}, B was {code(pair.right)}"
              f" ({text(pair.modality)}). Here is the next pair.")
    return reveal, None, leaderboard_view(pair.kind)


def _layout(offered: list[str]) -> dict:
    """The tab's widgets by name (inside the current `gr.Tab`)."""
    w: dict = {}
    gr.Markdown("**Which prompt draws medicine better?** Two images of the same subject and seed, made from two "
                "prompt templates (or by two models), shown without saying which is which. Pick the better one; "
                "every vote updates the leaderboard below, and the next pair is drawn.")
    with gr.Row():
        first = "histopathology" if "histopathology" in offered else (offered or [None])[0]
        w["modality"] = gr.Dropdown(offered, value=first, label="Modality", elem_id="arena-modality")
        w["kind"] = gr.Radio([("two templates, one model", "template"),
                              ("two models (chosen in Compare), one template", "model")],
                             value="template", label="Compare", elem_id="arena-kind")
        w["draw"] = gr.Button("New pair", variant="primary", elem_id="arena-new")
    w["header"] = gr.Markdown("Press **New pair** to draw two images.", elem_id="arena-header")
    with styled(IMAGES_CSS, "arena-pair"), gr.Row():
        w["images"] = [gr.Image(label=side, type="filepath", interactive=False, elem_id=f"arena-{side.lower()}",
                                height=IMAGE_HEIGHT, min_width=240, buttons=["fullscreen"]) for side in "AB"]
    with gr.Row():
        w["buttons"] = {winner: gr.Button(label, elem_id=f"arena-vote-{winner}") for winner, label in CHOICES.items()}
    w["status"] = gr.Markdown(elem_id="arena-status")
    w["board"] = leaderboard_table("arena-leaderboard")
    w["pair"] = gr.State()
    return w


def build(templates: TemplateSet, curated: Curated, compare: CompareTab) -> None:
    """Lay out the Arena tab (inside `gr.Tabs`) and wire drawing and voting. Each event is checked
    first by an event with no outputs, so a mistake is one message and what is shown stays."""

    def chosen(models: list[str] | str | None) -> list[str]:
        return [models] if isinstance(models, str) else list(models or compare.runtime.models[:1])

    @user_errors
    def check(modality: str, models: list[str] | str, kind: str) -> None:
        check_draw(modality, chosen(models), templates, kind)

    @user_errors
    def new_pair(modality: str, models: list[str] | str, kind: str) -> tuple:
        models = chosen(models)
        check_draw(modality, models, templates, kind)
        drawn = models[:1] * 2 if kind == "template" else models[:2]
        seconds = budget.pictures(drawn, [model_preset(m).settings[0] for m in drawn], 1)
        (pair,) = gpu.each(draw_pair, modality, models, templates, curated, kind, seconds=seconds)
        header = f"**{text(pair.subject)}** · seed {pair.seed}. Which image shows it better?"
        return header, *(str(path) for path in shown(pair)), pair

    with gr.Tab("Arena", id="arena") as tab:
        w = _layout(modalities(templates))
    drawing = [w["modality"], compare.form["model"], w["kind"]]
    pair_shown = [w["header"], *w["images"], w["pair"]]
    w["draw"].click(check, drawing, None, show_progress="hidden", api_name=False).success(
        new_pair, drawing, pair_shown, api_name="arena_pair")
    for winner, button in w["buttons"].items():
        voted = button.click(user_errors(check_vote), w["pair"], None, show_progress="hidden", api_name=False).success(
            lambda p, winner=winner: vote(p, winner), w["pair"], [w["status"], w["pair"], w["board"]],
            show_progress_on=w["status"], api_name=f"arena_vote_{winner}")
        voted.success(new_pair, drawing, pair_shown, api_name=False)  # the next pair, drawn at once
    tab.select(leaderboard_view, w["kind"], w["board"], api_name=False)
    w["kind"].change(leaderboard_view, w["kind"], w["board"], api_name=False)
