"""The Study tab's checklist: the condition's checklist questions for the rater (yes, no or unsure,
one tick per question), and the judges' calibration against those answers under the statistics.

Widgets and the conversions between them and playground.research's values; the tab
(ui/study_tab.py) wires them. A run that asks no checklist shows none of it.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd
from PIL import Image

from ..catalog.curated import Criterion
from ..errors import PlaygroundError
from ..research.calibration import CalibrationReport
from ..research.checklist_ratings import ANSWERS

QUESTION = "Question"
HEADERS = [QUESTION, *ANSWERS]
CALIBRATION_HEADERS = ["Judge", "Criterion", "Answers (yes)", "AUROC", "Kappa at 0.5", "ECE", "Note"]


def shown(questions: list[Criterion]) -> gr.Dataframe:
    """The checklist table for these questions, nothing ticked; hidden when there are none."""
    rows = [[c.question, False, False, False] for c in questions]
    return gr.Dataframe(pd.DataFrame(rows, columns=HEADERS), visible=bool(questions))


def answers(table: pd.DataFrame | None, questions: list[Criterion]) -> dict[str, str] | None:
    """The ticks of `table` as criterion id -> yes, no or unsure (a question left blank is left
    out, and the study says which is missing); None when the condition asks no checklist."""
    if not questions:
        return None
    ids = {c.question: c.id for c in questions}
    found = {}
    for row in ([] if table is None else table.to_dict("records")):
        ticked = [answer for answer in ANSWERS if row.get(answer) is True or row.get(answer) == "true"]
        if len(ticked) > 1:
            raise PlaygroundError(f"Tick one answer for {row.get(QUESTION)!r}, not {' and '.join(ticked)}.")
        if row.get(QUESTION) not in ids:
            raise PlaygroundError(f"{row.get(QUESTION)!r} is not a checklist question of this condition; "
                                  "start (or resume) the session again.")
        if ticked:
            found[ids[row[QUESTION]]] = ticked[0]
    return found


def calibration_view(report: CalibrationReport) -> tuple:
    """The calibration table in plain words, the reliability diagrams and the note; the panel
    shown only when some answer could be paired with a judge."""
    rows = [(f"{r.judge} ({r.model})", r.criterion, f"{r.n} ({r.n_yes})", _number(r.auroc), _number(r.kappa),
             _number(r.ece), r.note) for r in report.table.itertuples()]
    plots = []
    for path in report.plots:  # the run folder is not served: the page gets copies
        with Image.open(path) as image:
            plots.append((image.copy(), path.stem))
    return (pd.DataFrame(rows, columns=CALIBRATION_HEADERS), plots, report.note,
            gr.Column(visible=not report.table.empty))


def _number(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.2f}"


def layout(w: dict) -> None:
    """The rater's checklist (inside the rating panel), hidden until a condition asks it."""
    w["checklist"] = gr.Dataframe(pd.DataFrame(columns=HEADERS), datatype=["str", "bool", "bool", "bool"],
                                  interactive=True, static_columns=[0], visible=False, wrap=True,
                                  column_widths=["46%", "18%", "18%", "18%"], elem_id="study-checklist",
                                  label="Checklist: for the images shown, tick yes, no or unsure for each question")


def statistics_layout(w: dict) -> None:
    """The judges against the experts' checklist answers, hidden until there are some."""
    with gr.Column(visible=False) as w["calibration_panel"]:
        w["calibration_note"] = gr.Markdown(elem_id="study-calibration-note")
        w["calibration"] = gr.Dataframe(pd.DataFrame(columns=CALIBRATION_HEADERS), interactive=False, wrap=True,
                                        elem_id="study-calibration",
                                        label="Checklist judges against the experts' answers, per criterion")
        w["reliability"] = gr.Gallery(label="Reliability diagrams (one per judge)", columns=1, height="auto",
                                      object_fit="contain", elem_id="study-reliability")
