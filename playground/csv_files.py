"""CSV files that a spreadsheet opens as data, never as commands: every CSV the playground writes
goes through `write_csv` (or `csv_text`, for a CSV inside a ZIP).

Excel and LibreOffice run a cell that starts with = + - @ (or a tab or a carriage return) as a
formula (OWASP "CSV injection"), so such a cell gets a leading apostrophe. So does every line
inside a cell that starts with one: a reader that breaks rows at a carriage return, a vertical
tab or a Unicode line separator (as `str.splitlines` does) would otherwise begin a row with the
formula. Every text cell is quoted, so a cell holding a line break stays one cell for a CSV reader.
Structured cells (a checklist, the probe's reading) are written as JSON.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .files import atomic

FORMULA_PREFIXES = "=+-@\t\r"
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # every line break `str.splitlines` honours
_FORMULA_LINE = re.compile(f"(^|[{LINE_BREAKS}])(?=[{re.escape(FORMULA_PREFIXES)}])")


def _neutralised(value: object) -> object:
    """A text cell with an apostrophe before each of its lines that starts like a formula."""
    return _FORMULA_LINE.sub(r"\1'", value) if isinstance(value, str) else value


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell (and every line inside one) that a spreadsheet would run as a
    formula given a leading apostrophe; numbers stay numbers."""
    return frame.map(_neutralised)


def _json(value: object) -> object:
    """A structured cell (a checklist, the probe's reading) as JSON text; other cells as they are."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=_plain)
    return value


def _plain(value: object) -> object:
    """What JSON cannot write, as it can: a numpy array (a list read back from Parquet inside a
    record) as a list, a numpy scalar as a number, anything else as text."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if hasattr(value, "item") else str(value)


def csv_text(frame: pd.DataFrame) -> str:
    """`frame` as CSV, without its index: structured cells as JSON, formulas escaped, every text
    cell quoted."""
    return escape_formulas(frame.map(_json)).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """`frame` as CSV (see `csv_text`), written atomically."""
    with atomic(path) as tmp:
        tmp.write_text(csv_text(frame), encoding="utf-8")
    return path
