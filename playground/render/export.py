"""Files that leave the playground: PNGs that carry their settings, ZIPs and tables.

PNG metadata uses AUTOMATIC1111's "parameters" text chunk, so a saved image opens in PNG Info
tools (A1111, ComfyUI, civitai) with its prompt and settings. CSV cells that a spreadsheet would
run as a formula are escaped.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ..files import atomic

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PARAM_RE = re.compile(r'\s*([\w][\w \-/]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def _quote(value: object) -> str:
    """A1111's quoting: a value with a comma, colon, quote or newline becomes a JSON string."""
    text = str(value)
    return json.dumps(text) if any(ch in text for ch in ',:"\n') else text


def a1111_parameters(row: Mapping) -> str:
    """The ``parameters`` text for one result row (columns: playground.schema)."""
    fields = {
        "Steps": row["steps"],
        "Sampler": row["scheduler"],
        "CFG scale": f"{float(row['guidance_scale']):g}",
        "Seed": row["seed"],
        "Size": f"{row['width']}x{row['height']}",
        "Model": row["model_id"],
        "CLIP guidance": f"{float(row.get('clip_guidance_scale') or 0):g}",
        "Template": row["template_id"],
        "Subject": row["subject"],
    }
    lines = [str(row["prompt"])]
    if row.get("negative_prompt"):
        lines.append(f"Negative prompt: {row['negative_prompt']}")
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in fields.items()))
    return "\n".join(lines)


def parse_parameters(text: str) -> dict[str, str]:
    """Read a ``parameters`` text back: ``prompt``, ``negative_prompt`` and every ``Key: value``."""
    *head, last = text.strip().split("\n")
    if not _PARAM_RE.match(last) or len(_PARAM_RE.findall(last)) < 3:
        head, last = [*head, last], ""
    prompt_lines, negative_lines, in_negative = [], [], False
    for line in head:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:") :].strip()
        (negative_lines if in_negative else prompt_lines).append(line)
    parsed = {"prompt": "\n".join(prompt_lines), "negative_prompt": "\n".join(negative_lines)}
    for key, value in _PARAM_RE.findall(last):
        parsed[key] = json.loads(value) if value.startswith('"') else value.strip()
    return parsed


def save_png(image: Image.Image, path: Path, parameters: str) -> Path:
    """Write `image` as PNG with `parameters` in a tEXt chunk of that name (atomically)."""
    info = PngInfo()
    info.add_text("parameters", parameters)
    with atomic(path) as tmp:
        image.save(tmp, format="PNG", pnginfo=info)
    return path


def read_parameters(path: Path) -> str:
    with Image.open(path) as image:
        return image.text["parameters"]  # type: ignore[attr-defined]


def image_names(frame: pd.DataFrame, prefix: str = "") -> list[str]:
    """The one naming scheme of saved images: ``{prefix}rROW-cCOLUMN-sSEED.png`` (unique in a grid,
    and known before the grid is complete, so a streamed image is saved once under its final name)."""
    return [f"{prefix}r{row.row}-c{row.column}-s{row.seed}.png" for row in frame.itertuples()]


def save_images(frame: pd.DataFrame, images: Sequence[Image.Image], folder: Path, prefix: str = "") -> list[Path]:
    """Save every image of a result under `image_names`, each PNG with its parameters."""
    return [
        save_png(image, folder / name, a1111_parameters(row))
        for name, row, image in zip(image_names(frame, prefix), frame.to_dict("records"), images)
    ]


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells starting with = + - @ tab or CR get a leading apostrophe (OWASP CSV injection)."""

    def escape(value: object) -> object:
        return "'" + value if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) else value

    return frame.map(escape)


def _json(value: object) -> object:
    """A structured cell (a checklist, the probe's reading) as JSON text; other cells as they are."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    return value


def csv_text(frame: pd.DataFrame) -> str:
    """`frame` as CSV: structured cells as JSON, formula cells escaped."""
    return escape_formulas(frame.map(_json)).to_csv(index=False)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """`frame` as CSV (see `csv_text`), written atomically."""
    with atomic(path) as tmp:
        tmp.write_text(csv_text(frame), encoding="utf-8")
    return path


def write_zip(frame: pd.DataFrame, image_paths: Sequence[Path], path: Path, extra: Sequence[Path] = ()) -> Path:
    """A ZIP with every image, ``results.csv`` (one row per image, ``image_file`` naming it) and
    the `extra` files (the labelled grid PNG), written atomically: a download never sees half a ZIP."""
    table = frame.copy()
    table["image_file"] = [p.name for p in image_paths]
    with atomic(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for file in [*image_paths, *extra]:
            archive.write(file, arcname=file.name)  # PNGs are compressed already
        archive.writestr("results.csv", csv_text(table))
    return path
