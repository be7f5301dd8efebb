"""Compare's Refine panel: MAGIC's loop on the selected grid image, its trajectory shown round by
round (candidates, scores, criteria that flipped), and any step preferred to the library with its
lineage (parent, round)."""

from __future__ import annotations

import gradio as gr
import pandas as pd
from PIL import Image

from .. import limits
from ..errors import PlaygroundError
from ..judges.base import Context
from ..render.markdown import text
from ..stores.library import prefer
from ..workflow import budget
from ..workflow.refine import (
    MAX_CANDIDATES,
    STRENGTH,
    Start,
    refine,
    step_record,
    why_stopped,
)
from . import gpu
from .common import image_position, user_errors, vote_said, voter_of

SHOWN_COLUMNS = {  # the trajectory's scores first, its long texts last; widths that fit the page, headers in words
    "round": "6%", "candidate": "8%", "checklist_score": "8%", "criteria_passed": "8%", "kept": "6%",
    "flipped": "16%", "seed": "6%", "strength": "7%", "prompt": "21%", "negative_prompt": "14%",
}


def caption(step: pd.Series) -> str:
    """What is written under a trajectory image, short enough to read whole: its step number,
    round and candidate, score and whether it was kept (the table has the rest)."""
    where = f"round {step['round']}, candidate {step['candidate'] + 1}" if step["round"] else "the start"
    return f"#{step.name} · {where} · {step['checklist_score']:.2f}" + (" · kept" if step["kept"] else "")


def shown(trajectory: pd.DataFrame) -> tuple:
    gallery = [(path, caption(step)) for path, (_, step) in zip(trajectory["image_path"], trajectory.iterrows())]
    table = trajectory[list(SHOWN_COLUMNS)].rename(columns=lambda name: name.replace("_", " "))
    return gallery, table, trajectory


def _picked(evt: gr.SelectData) -> int:
    return evt.index


@user_errors
def prefer_step(trajectory: pd.DataFrame | None, start_row: dict | None, number: float | None, note: str,
                request: gr.Request | None = None) -> str:
    if trajectory is None or start_row is None:
        raise PlaygroundError("Refine an image first, then pick a step to prefer.")
    number = limits.whole_number(number, "The step number", 0, len(trajectory) - 1)
    step = trajectory.iloc[number]
    with Image.open(step["image_path"]) as image:
        start = Start(start_row, image.convert("RGB"))
    logged = prefer(step_record(start, step), note or "", voter=voter_of(request))
    lineage = f" (round {step['round']}, parent {text(step['parent'][:12])}…)" if step["parent"] else " (the start)"
    return vote_said(logged, lineage)


def build(result_state: gr.State, run_state: gr.State, selected: gr.Number, context: Context) -> None:
    """Lay out the panel (inside the Compare tab) and wire Refine and "Prefer this step"."""

    @user_errors
    def run_refine(frame: pd.DataFrame | None, run, image: float | None, rounds: float, candidates: float,
                   progress=gr.Progress()):
        """Refine image number `image` (from 1): up to `rounds` rounds of `candidates` image-to-image candidates."""
        if frame is None or frame.empty or run is None:
            raise PlaygroundError("Generate a comparison first, then select the image to refine.")
        row = frame.iloc[image_position(len(frame), image)]
        if row["image_problem"]:
            raise PlaygroundError(f"Image {image} is not a real image ({row['image_problem']}); pick another.")
        rounds = limits.whole_number(rounds, "Rounds", 1, 5)
        candidates = limits.whole_number(candidates, "Candidates", 1, MAX_CANDIDATES)
        with Image.open(row["image_path"]) as image:
            start = Start(row.to_dict(), image.convert("RGB"))
        seconds = budget.refine(row["model_id"], start.setting, rounds, candidates, STRENGTH, run.judges)
        trajectory = None
        for trajectory in gpu.each(refine, start, run.judges, rounds, candidates, context=context, progress=progress,
                                   seconds=seconds):
            yield (*shown(trajectory), start.row, f"Round {trajectory['round'].max()} of at most {rounds} done…")
        if trajectory is not None:
            yield (*shown(trajectory), start.row, why_stopped(trajectory, rounds))

    with gr.Accordion("Refine the selected image with expert feedback (MAGIC)", open=False, elem_id="refine-panel"):
        gr.Markdown("The criteria the selected image fails become feedback: their positive statements join the prompt, "
                    "the subject's confusers and their failure statements the negative prompt. Each round draws "
                    "candidates from the kept image (image-to-image, strength 0.3) and keeps the best if it scores "
                    "higher; it stops when every criterion passes or nothing improves.")
        with gr.Row():
            rounds = gr.Slider(1, 5, value=2, step=1, label="Rounds (at most)")
            candidates = gr.Slider(1, MAX_CANDIDATES, value=2, step=1, label="Candidates per round")
            refine_button = gr.Button("Refine the selected image", variant="primary", elem_id="refine")
        trajectory_gallery = gr.Gallery(label="Trajectory: the start, then each round's candidates (click one to pick it)",
                                        columns=5, object_fit="contain", elem_id="trajectory")
        trajectory_table = gr.Dataframe(pd.DataFrame(columns=[c.replace("_", " ") for c in SHOWN_COLUMNS]),
                                        interactive=False, wrap=True,
                                        column_widths=list(SHOWN_COLUMNS.values()),
                                        label="Trajectory: every candidate's score and flipped criteria "
                                        "(press Refine to fill it)", elem_id="trajectory-table")
        with gr.Row():
            step_number = gr.Number(label="Step #", precision=0, value=0, elem_id="refine-step")
            step_note = gr.Textbox(label="Note (optional)", scale=2)
            prefer_button = gr.Button("Prefer this step (with its lineage)", elem_id="prefer-step")
        status = gr.Markdown(elem_id="refine-status")
        trajectory_state, start_state = gr.State(), gr.State()

    refine_button.click(run_refine, [result_state, run_state, selected, rounds, candidates],
                        [trajectory_gallery, trajectory_table, trajectory_state, start_state, status], api_name="refine",
                        show_progress_on=trajectory_gallery)
    trajectory_gallery.select(_picked, None, step_number, api_name=False)
    prefer_button.click(prefer_step, [trajectory_state, start_state, step_number, step_note], status,
                        api_name="prefer_step")
