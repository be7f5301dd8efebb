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
from ..stores.arena_votes import KINDS, Pair, open_arena
from ..workflow import budget
from ..workflow.arena_pairs import draw_pair, modalities
from . import gpu
from .common import user_errors
from .compare import CompareTab

CHOICES = {"left": "A is better", "tie": "Tie", "right": "B is better"}


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


def build(templates: TemplateSet, curated: Curated, compare: CompareTab) -> None:
    """Lay out the Arena tab (inside `gr.Tabs`) and wire drawing and voting."""
    offered = modalities(templates)

    @user_errors
    def new_pair(modality: str, models: list[str] | str, kind: str):
        models = [models] if isinstance(models, str) else list(models or compare.runtime.models[:1])
        if modality not in offered:
            raise PlaygroundError(f"Choose a modality: {', '.join(offered)}.")
        if kind not in KINDS:
            raise PlaygroundError(f"Compare templates or models, not {kind!r}.")
        drawn = models[:1] * 2 if kind == "template" else models[:2]
        seconds = budget.pictures(drawn, [model_preset(m).settings[0] for m in drawn], 1)
        (pair,) = gpu.each(draw_pair, modality, models, templates, curated, kind, seconds=seconds)
        header = f"**{text(pair.subject)}** · seed {pair.seed}. Which image shows it better?"
        return header, pair.left_image, pair.right_image, pair, ""

    @user_errors
    def vote(pair: Pair | None, winner: str, kind: str):
        if pair is None:
            raise PlaygroundError("Draw a pair first (New pair).")
        open_arena().vote(pair, winner)
        reveal = (f"Recorded: {CHOICES[winner]}. A was {code(pair.left)}, B was {code(pair.right)}"
                  f" ({text(pair.modality)}). Draw a new pair to vote again.")
        return reveal, None, leaderboard_view(pair.kind)

    with gr.Tab("Arena", id="arena") as tab:
        gr.Markdown("**Which prompt draws medicine better?** Two images of the same subject and seed, made from two "
                    "prompt templates (or by two models), shown without saying which is which. Pick the better one; "
                    "every vote updates the leaderboard below.")
        with gr.Row():
            first = "histopathology" if "histopathology" in offered else (offered or [None])[0]
            modality = gr.Dropdown(offered, value=first, label="Modality", elem_id="arena-modality")
            kind = gr.Radio([("two templates, one model", "template"), ("two models (chosen in Compare), one template",
                                                                        "model")],
                            value="template", label="Compare", elem_id="arena-kind")
            draw = gr.Button("New pair", variant="primary", elem_id="arena-new")
        header = gr.Markdown("Press **New pair** to draw two images.", elem_id="arena-header")
        with gr.Row():
            left = gr.Image(label="A", type="filepath", interactive=False, elem_id="arena-a", height=320)
            right = gr.Image(label="B", type="filepath", interactive=False, elem_id="arena-b", height=320)
        with gr.Row():
            buttons = {w: gr.Button(label, elem_id=f"arena-vote-{w}") for w, label in CHOICES.items()}
        status = gr.Markdown(elem_id="arena-status")
        board = leaderboard_table("arena-leaderboard")
        pair = gr.State()

    draw.click(new_pair, [modality, compare.form["model"], kind], [header, left, right, pair, status],
               api_name="arena_pair")
    for winner, button in buttons.items():
        button.click(lambda p, k, winner=winner: vote(p, winner, k), [pair, kind], [status, pair, board],
                     api_name=f"arena_vote_{winner}")
    tab.select(leaderboard_view, kind, board, api_name=False)
    kind.change(leaderboard_view, kind, board, api_name=False)
