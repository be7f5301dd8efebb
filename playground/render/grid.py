"""The labelled grid's layout: headers, each cell's images with their badges and marks, a heat
colour per cell and a legend of what occurs.

Pure data, shared by the HTML grid in the app and the PNG of `grid_image`, so the two say the
same thing. It reads any prefix of a result frame: the grid streams, so a cell may be missing or
not yet judged, and a frame of the generate step alone lays out without badges or heat.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
import pandas as pd

from .. import schema
from ..schema import PRIMARY_SCORE

# Heat colours, light enough for dark text: pale red (lowest of a row), pale yellow, pale green.
COLD, MILD, WARM = (246, 196, 192), (250, 236, 180), (196, 234, 194)
UNSCORED = (232, 232, 232)


@dataclass(frozen=True)
class Header:
    """A column's or a row's header: `index` is the 0-based grid position, `title` the short
    label shown on the grid ("c1 photo-detailed", "r1 sdxl-turbo · CFG 4 · ..."), `detail`
    the full text (the filled prompt; the model id, setting and its negative prompt)."""

    index: int
    title: str
    detail: str


@dataclass(frozen=True)
class CellImage:
    """One image of a cell: `position` is its row's iloc position in the frame (and in the
    result's images), `badges` its scores ("CLIP 27.1"), `marks` its flags ("★", "⚠ sees X"),
    `origin` what it is called under its thumbnail ("seed 3", or the file a judged image came from)."""

    position: int
    seed: int
    badges: list[str]
    marks: list[str]
    problem: str
    origin: str


@dataclass(frozen=True)
class Cell:
    """The images of one prompt column x model-setting row, in seed order. `score` is the mean
    primary score of its real images; `heat` places it between its row's lowest (0) and highest
    (1) cell, so each row is compared within itself (models differ in scale); None: unscored."""

    row: int
    column: int
    images: list[CellImage]
    score: float | None
    heat: float | None


@dataclass(frozen=True)
class Grid:
    """Headers, cells (row-major; a cell not generated yet is absent) and the legend lines."""

    columns: list[Header]
    rows: list[Header]
    cells: list[Cell]
    legend: list[str]

    def cell(self, row: int, column: int) -> Cell | None:
        """The cell at grid `row` and `column`, or None when it has no image yet."""
        return next((c for c in self.cells if c.row == row and c.column == column), None)


def short_model(model_id: str) -> str:
    """"sdxl-turbo" for "stabilityai/sdxl-turbo": enough to tell models apart on the grid."""
    return model_id.rstrip("/").rsplit("/", 1)[-1]


def badges(row: pd.Series) -> list[str]:
    """"CLIP 27.1", "VLM 0.64": each declared score with a badge that this row has, with the
    decimals its declared scale needs."""
    return [f"{column.badge} {row[column.name]:.{column.decimals}f}"
            for column in (schema.COLUMNS[name] for name in schema.scores(row))
            if column.badge and pd.notna(row[column.name])]


def _text(row: pd.Series, name: str) -> str:
    """A string column's value; "" where the column is absent or not filled yet (NaN)."""
    value = row.get(name, "")
    return value if isinstance(value, str) else ""


def records(row: pd.Series, name: str) -> list[dict]:
    """A structured (list) column's records; [] where it is absent, not filled yet or blank."""
    value = row.get(name)
    return list(value) if isinstance(value, (list, tuple, np.ndarray)) else []


def passed(row: pd.Series) -> str:
    """"k/n": how many of the image's n criteria CLIP finds ('' without criteria); one skipped
    because its gate failed never passes."""
    checklist = records(row, "criteria")
    return f"{sum(bool(c['passed']) for c in checklist)}/{len(checklist)}" if checklist else ""


def _skipped(check: dict) -> bool:
    """Whether a checklist record was skipped (a gate failed); records saved before gates never were."""
    return bool(check.get("skipped", False))


def _gates(check: dict) -> list[str]:
    """The ids of a checklist record's gates ([] for a record saved before gates)."""
    value = check.get("require")
    return list(value) if isinstance(value, (list, tuple, np.ndarray)) else []


SKIPPED = "skipped: gate failed"


def top_label(row: pd.Series) -> str:
    """The label CLIP's probe ranks first ('' when the image was not probed)."""
    seen = records(row, "probe_top3")
    return seen[0]["label"] if seen else ""


def probe_text(row: pd.Series) -> str:
    """"label 71%, label 12%, label 9%": the probe's reading, for people."""
    return ", ".join(f"{s['label']} {s['p']:.0%}" for s in records(row, "probe_top3"))


def _criterion_text(check: dict) -> str:
    """"✓ label 0.71", "✗ label 0.32", "– label 0.80 (skipped: gate failed)": one of CLIP's criteria."""
    if _skipped(check):
        return f"– {check['label']} {check['p']:.2f} ({SKIPPED})"
    return f"{'✓' if check['passed'] else '✗'} {check['label']} {check['p']:.2f}"


def _answer_text(answer: dict) -> str:
    """"question → VLM 0.64", with "(skipped: gate failed)" where its gate failed."""
    return f"{answer['question']} → VLM {answer['p_yes']:.2f}" + (f" ({SKIPPED})" if _skipped(answer) else "")


def criteria_text(row: pd.Series) -> str:
    """"✓ label 0.71 · ✗ label 0.32": CLIP's checklist, for people."""
    return " · ".join(_criterion_text(c) for c in records(row, "criteria"))


def vlm_text(row: pd.Series) -> str:
    """"question → VLM 0.64 | ...": the checklist judge's answers, for people."""
    return " | ".join(_answer_text(a) for a in records(row, "vlm_checklist"))


def _flag(row: pd.Series, name: str) -> bool:
    """A bool column's value; False where the column is absent or not filled yet (NaN)."""
    value = row.get(name, False)
    return bool(value) if pd.notna(value) else False


def marks(row: pd.Series) -> list[str]:
    """The flags under an image, in the order the legend explains them."""
    seen, problem = top_label(row), _text(row, "image_problem")
    found = [f"✓{passed(row)}" if passed(row) else "",
             "★" if _flag(row, "best_in_row") else "", "◆" if _flag(row, "best_of_n") else "",
             f"⚠ sees {seen}" if seen and seen != row["subject"].strip() else "",
             f"⚠ {problem}" if problem else "", "cached" if _flag(row, "from_cache") else "",
             "draft" if row.get("decoder") == "fast" else ""]
    return [mark for mark in found if mark]


def column_headers(frame: pd.DataFrame) -> list[Header]:
    """One header per prompt column present: its template (and its Prompt S/R term or patient
    subgroup) and its prompt."""
    columns = frame.drop_duplicates("column").sort_values("column")
    return [Header(int(c["column"]), f"c{c['column'] + 1} " + (origin(c) if _text(c, "file") else c["template_id"] + _axis(c)),
                   c["prompt"]) for _, c in columns.iterrows()]


def _axis(column: pd.Series) -> str:
    """What a column varies, for its header: its patient subgroup or Prompt S/R term ("" when neither)."""
    if not _text(column, "variant"):
        return ""
    return f" · {'subgroup' if _text(column, 'subgroup') else 'S/R'}: {_text(column, 'variant')}"


def row_headers(frame: pd.DataFrame) -> list[Header]:
    """One header per model x guidance row present: short model and setting; in full below."""
    rows = frame.drop_duplicates("row").sort_values("row")
    return [Header(int(r["row"]), f"r{r['row'] + 1} " + (" · ".join(filter(None, [short_model(r["model_id"]), r["setting"]]))
                                                         or "images read from files"),
                   f"{r['model_id']} · {r['setting']}"
                   + (f" · negative prompt: {r['setting_negative_prompt']}" if r["setting_negative_prompt"] else ""))
            for _, r in rows.iterrows()]


def _score(cell: pd.DataFrame) -> float | None:
    """Mean primary score of the cell's real images; None before (or without) scoring."""
    if PRIMARY_SCORE not in cell:
        return None
    real = cell.loc[cell["image_problem"] == "", PRIMARY_SCORE].dropna()
    return float(real.mean()) if len(real) else None


def _heats(scores: dict[tuple[int, int], float | None]) -> dict[tuple[int, int], float | None]:
    """Each cell's score scaled between its row's lowest (0) and highest (1) cell score."""
    heats: dict[tuple[int, int], float | None] = {}
    for row in {r for r, _ in scores}:
        scored = [s for (r, _), s in scores.items() if r == row and s is not None]
        low, high = min(scored, default=0.0), max(scored, default=0.0)
        heats |= {(r, c): None if s is None else (s - low) / (high - low) if high > low else 1.0
                  for (r, c), s in scores.items() if r == row}
    return heats


def _cell_images(cell: pd.DataFrame) -> list[CellImage]:
    """The cell's images in seed order; `cell` is indexed by frame position (see `layout`)."""
    return [CellImage(int(position), int(row["seed"]), badges(row), marks(row), _text(row, "image_problem"), origin(row))
            for position, row in cell.sort_values("seed", kind="stable").iterrows()]


def origin(row: pd.Series) -> str:
    """What an image is called: the file it was read from (an image judged from a file, which has
    no seed of ours), else its seed."""
    file = _text(row, "file")
    return PurePath(file).name if file else f"seed {row['seed']}"


def _legend(frame: pd.DataFrame, cells: list[Cell]) -> list[str]:
    """Lines explaining the badges and marks that occur on this grid, and its colours."""
    shown = [schema.COLUMNS[name] for name in schema.scores(frame)
             if schema.COLUMNS[name].badge and frame[name].notna().any()]
    occurring = [mark for cell in cells for image in cell.images for mark in image.marks]
    primary = schema.COLUMNS[PRIMARY_SCORE].badge
    seeds = max((len(cell.images) for cell in cells), default=0)
    explained = [
        ("✓", "✓k/n: expert criteria passed (CLIP's checklist)"),
        ("★", f"★ best in its row by {primary} score"),
        ("◆", f"◆ best of the {seeds} seeds of its cell by checklist score (the judge's, else CLIP's criteria)"),
        ("⚠ sees", "⚠ sees X: CLIP's probe finds X likelier than the subject"),
        ("cached", "cached: read from the image cache (drawn before with the same inputs)"),
        ("draft", "draft: decoded by the model's tiny decoder; \u201cDecode this draft in full\u201d draws it with its VAE"),
    ]
    lines = [f"{c.badge}: {c.meaning}" for c in shown]
    lines += [line for sign, line in explained if any(mark.startswith(sign) for mark in occurring)]
    if any(image.problem for cell in cells for image in cell.images):
        lines.append("⚠ <problem>: not a real image (black/NaN or flagged), so not scored")
    if any(cell.heat is not None for cell in cells):
        lines.append(f"colour: the cell's mean {primary} score, per row, red (lowest) to green (highest)")
    return lines


def layout(frame: pd.DataFrame) -> Grid:
    """The grid of `frame` (any prefix of a result frame), ready to draw as HTML or PNG."""
    by_position = frame.reset_index(drop=True)  # CellImage.position: the row's place in frame and images
    groups = {(int(r), int(c)): cell for (r, c), cell in by_position.groupby(["row", "column"], sort=True)}
    scores = {key: _score(cell) for key, cell in groups.items()}
    heats = _heats(scores)
    cells = [Cell(r, c, _cell_images(cell), scores[r, c], heats[r, c]) for (r, c), cell in groups.items()]
    return Grid(column_headers(frame), row_headers(frame), cells, _legend(frame, cells))


def heat_colour(heat: float | None) -> tuple[int, int, int]:
    """A pale background for a cell's heat: red (0) through yellow (0.5) to green (1); grey when
    unscored. Every colour is light, so dark text reads on it."""
    if heat is None:
        return UNSCORED
    heat = min(max(heat, 0.0), 1.0)
    start, end, t = (COLD, MILD, heat * 2) if heat < 0.5 else (MILD, WARM, heat * 2 - 1)
    return tuple(round(a + (b - a) * t) for a, b in zip(start, end))


def detail_lines(row: pd.Series, number: int, checklist: bool = True) -> list[str]:
    """Everything known about image `number` (counted from 1, as the grid and the table number
    them; `row` is its row of the frame), as plain lines: where it sits, what was sent, every
    score, the checklist (unless a caller draws it itself: `checklist_tree`) and the probe.
    Callers escape for their medium."""
    where = [row["model_id"], row["template_id"], row["setting"], origin(row)]
    lines = [f"Image {number} · " + " · ".join(str(part) for part in where if part),
             f"- prompt: {row['prompt']}"]
    if row["negative_prompt"]:
        lines.append(f"- negative prompt: {row['negative_prompt']}")
    if row["negative_ignored"]:
        lines.append("- ⚠ negative prompt not used (this model takes none, or this row has no classifier-free "
                     f"guidance): {row['negative_ignored']}")
    if row["prompt_ignored"]:
        lines.append(f"- ⚠ ignored by the model (past what its text encoder reads): {row['prompt_ignored']}")
    if row["image_problem"]:
        return [*lines, f"- ⚠ not scored: {row['image_problem']}"]
    lines += [f"- {name}: {row[name]:.2f}" for name in schema.scores(row) if pd.notna(row[name])]
    if _text(row, "finding"):
        lines.append(f"- chest x-ray finding asked for: {row['finding']}, probability {row['finding_score']:.2f} "
                     f"({row['finding_model']})")
    lines += checklist_lines(row) if checklist else []
    if probe_text(row):
        lines.append(f"- CLIP sees: {probe_text(row)}")
    return lines


@dataclass(frozen=True)
class Check:
    """One criterion of an image's checklist as shown: its words, its `depth` under its gates
    (0: no gate) and whether the judge the checklist shows skipped it (its gate failed)."""

    text: str
    depth: int
    skipped: bool


def _in_tree_order(checks: list[dict]) -> list[tuple[int, dict]]:
    """The records with their depths, each criterion under its first gate (criteria.yaml's order
    among siblings): the checklist as a tree."""
    ids = {c["id"] for c in checks}
    children: dict[str | None, list[dict]] = {}
    for check in checks:
        children.setdefault(next((g for g in _gates(check) if g in ids), None), []).append(check)

    def walk(gate: str | None, depth: int) -> list[tuple[int, dict]]:
        return [pair for check in children.get(gate, []) for pair in [(depth, check), *walk(check["id"], depth + 1)]]

    return walk(None, 0)


def _beside(check: dict) -> str:
    """" · CLIP 0.71": CLIP's reading of a criterion beside the checklist judge's answer."""
    return f" · CLIP {check['p']:.2f}" + (f" ({SKIPPED})" if _skipped(check) else "")


def checklist_tree(row: pd.Series) -> tuple[str, list[Check]]:
    """The image's checklist as a heading and a tree, one `Check` per criterion: the checklist
    judge's P(yes) beside CLIP's probability where both answered ("", [] without a checklist)."""
    clip = {c["id"]: c for c in records(row, "criteria")}
    answers = records(row, "vlm_checklist")
    if answers:
        return (f"checklist, answered by {row['vlm_id']} (P(yes)) and by CLIP:",
                [Check(_answer_text(a) + (_beside(clip[a["id"]]) if a["id"] in clip else ""), depth, _skipped(a))
                 for depth, a in _in_tree_order(answers)])
    if clip:
        return (f"criteria {passed(row)}:",
                [Check(_criterion_text(c), depth, _skipped(c)) for depth, c in _in_tree_order(list(clip.values()))])
    return "", []


def checklist_lines(row: pd.Series) -> list[str]:
    """The image's checklist as indented lines: children under their gate, skipped ones said so."""
    heading, checks = checklist_tree(row)
    return [f"- {heading}", *(f"{'    ' * (c.depth + 1)}- {c.text}" for c in checks)] if heading else []
