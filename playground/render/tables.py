"""What the Compare tab shows beside the grid, made from a result frame: the results table, the
legend of the grid's axes, the selected image's details and the mean score per cell for the plot.
Structured columns are formatted here, for display only; user text is escaped for Markdown.
"""

from __future__ import annotations

import pandas as pd

from .. import schema
from .grid import criteria_text, detail_lines, probe_text, records, vlm_text
from .markdown import code, item, text

TABLE_KEYS = ["image", "column", "row", "model_id", "template_id", "setting", "seed"]  # image, column, row: from 1
WHO_JUDGED = ["domain_scorer", "vlm_id", "finding", "finding_model"]  # which judge gave the scores beside them


def calibrated_text(row: pd.Series) -> str | None:
    """"vlm cross-section 0.80 → 0.67 | ...": raw and calibrated P(yes); None without any (the
    table then drops the column)."""
    return " | ".join(f"{r['judge']} {r['id']} {r['p']:.2f} → {r['p_calibrated']:.2f}"
                      for r in records(row, "checklist_calibrated")) or None


STRUCTURED = {"criteria": criteria_text, "vlm_checklist": vlm_text, "probe_top3": probe_text,
              "checklist_calibrated": calibrated_text}  # shown as text


def results_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The Results table: where each image sits, numbered from 1 as the grid labels it (image #,
    column c, row r), which are drafts (when any is), every judge's verdict (structured ones as
    text), the marks and the prompt."""
    who = [name for name in WHO_JUDGED if name in frame]
    drafts = ["decoder"] if "decoder" in frame and (frame["decoder"] == "fast").any() else []
    columns = [*TABLE_KEYS, *drafts, *(c.name for c in schema.judged(frame)), *who, *schema.of_step("rank"), "prompt"]
    numbered = frame.assign(image=range(1, len(frame) + 1), column=frame["column"] + 1, row=frame["row"] + 1)
    table = numbered[[c for c in columns if c in numbered]].copy()
    for name, show in STRUCTURED.items():
        if name in table:
            table[name] = [show(row) for _, row in frame.iterrows()]
    return table.dropna(axis=1, how="all").round(2)


def captioned_images(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Each image's file with its number in the grid and the table ("#3 · r1 c2 · seed 8"), in the
    table's order: the API's gallery, so a script pairs image i with table row i."""
    return [(str(r.image_path), f"#{i} · r{r.row + 1} c{r.column + 1} · seed {r.seed}")
            for i, r in enumerate(frame.itertuples(), start=1)]


def details(row: pd.Series, number: int) -> str:
    """The selected image's full evaluation, as Markdown with user text escaped."""
    title, *lines = detail_lines(row, number)
    return "\n".join([f"**{text(title)}**", *(item(line) for line in lines)])


def legend(frame: pd.DataFrame, images_per_cell: int) -> str:
    """What the grid's axes are: prompt columns left to right, model x setting rows top to bottom."""
    columns = frame.drop_duplicates("column").sort_values("column")
    rows = frame.drop_duplicates("row").sort_values("row")
    several = frame["model_id"].nunique() > 1
    lines = [f"**Grid:** each line is {'a model × ' if several else 'a '}guidance setting; left to right, "
             f"{images_per_cell} seed(s) per prompt column."]
    lines += [f"- column c{c.column + 1}: {code(c.template_id)}: {text(c.prompt)}" for c in columns.itertuples()]
    lines += [f"- row r{r.row + 1}: **{text(r.model_id)}** · {text(r.setting)}"
              + (f" (negative prompt: {text(r.setting_negative_prompt)})" if r.setting_negative_prompt else "")
              + (" (⚠ the template's negative prompt is not used: the model takes none, or the row has no "
                 "classifier-free guidance)" if r.negative_ignored else "")
              for r in rows.itertuples()]
    lines += [
        f"- ⚠ column c{c.column + 1}'s prompt is longer than the text encoder of {code(c.model_id)} reads; "
        f"it was cut before: \"{text(c.prompt_ignored)}\""
        for c in frame[frame["prompt_ignored"] != ""].drop_duplicates(["column", "model_id"]).itertuples()
    ]
    return "\n".join(lines)


def mean_scores(frame: pd.DataFrame, score: str = schema.PRIMARY_SCORE) -> pd.DataFrame:
    """Mean `score` per prompt column x guidance setting, one row per grid cell, for a bar plot.

    Cells are grouped by the setting's key, not its label, and each bar is named by its column and
    row ("c1 photo-short · r2"; the legend spells out each row), so two settings that differ only
    in their negative prompt are two bars and no bar name is too long to read.
    """
    cells = frame.groupby(["row", "column", "template_id", "setting_key", "setting"], as_index=False)[score].mean()
    cells["cell"] = ("c" + (cells["column"] + 1).astype(str) + " " + cells["template_id"] + " · r"
                     + (cells["row"] + 1).astype(str))
    return cells
