"""A report card as one HTML page: tables, plots and thumbnails of one or two models side by side.

The page is self-contained but for its images, which lie beside it in `assets/` and are referenced
relatively, so the folder can be zipped, copied or served as it is. Two cards put each section's
tables in two columns, row for row the same (both models ran the same protocol). Every text is
HTML-escaped; numbers show the decimals their column's scale needs (schema.py).
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from PIL import Image

from .. import schema
from ..files import atomic

THUMBNAIL = 96  # pixels, the longer side of a grid image on the page
GRID = "Grid images"
CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1f2328; }
.cards { display: grid; grid-template-columns: repeat(var(--cards), minmax(0, 1fr)); gap: 1.5em; }
.card { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.4em 0; }
th, td { border: 1px solid #d0d7de; padding: 2px 6px; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th.expert, td.expert { background: #fff8c5; }
.note { color: #57606a; font-size: 0.9em; }
.thumbs { display: flex; gap: 2px; }
.thumbs img { width: 64px; height: 64px; object-fit: contain; background: #fff; }
img.plot { max-width: 100%; }
"""


@dataclass(frozen=True)
class CardView:
    """One model's card as the page shows it.

    Attributes:
        model: the model's id, the card's heading.
        protocol: a sentence on what was drawn and judged, and where the run lies.
        tables: section heading -> its table (rows in the protocol's order).
        notes: section heading -> a sentence under the table ('' for none).
        run: the run folder (its images/ hold the PNGs the thumbnails are made from).
        frame: the run's result frame with the protocol's axes (style, topic, phrasing, setting).
        plots: section heading -> a PNG shown under that section's table.
        experts: columns of the tables that hold the original experts' ratings (shaded).
    """

    model: str
    protocol: str
    tables: dict[str, pd.DataFrame]
    notes: dict[str, str]
    run: Path
    frame: pd.DataFrame
    plots: dict[str, Path] = field(default_factory=dict)
    experts: tuple[str, ...] = ()


def asset_folder(out: Path, run_name: str) -> Path:
    """Where a card's plots and thumbnails go: `out`/assets/<run folder's name>/ (created)."""
    folder = out / "assets" / run_name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def plot_means(table: pd.DataFrame, axis: str, judges: Sequence[str], experts: Sequence[str], path: Path,
               expert_scale: float) -> Path:
    """Each judge's mean per value of `axis` on 0-1 of its own scale, beside the experts' medians
    (divided by `expert_scale`, the top of their rating scale), as grouped bars; saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {j: [schema.COLUMNS[j].normalised(v) for v in table[j]] for j in judges}
    series |= {e: list(table[e] / expert_scale) for e in experts}
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(table)), 3.6))
    for k, (name, heights) in enumerate(series.items()):
        ax.bar([i - 0.4 + width * (k + 0.5) for i in range(len(table))], heights, width, label=name,
               hatch="//" if name in experts else None)
    ax.set_xticks(range(len(table)), table[axis], rotation=25, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("0-1 of each scale")
    ax.legend(fontsize=7, ncols=3, loc="upper left", bbox_to_anchor=(0, -0.35))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _number(column: str, value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{schema.COLUMNS[column].decimals if column in schema.COLUMNS else 2}f}"
    return str(value)


def _table(table: pd.DataFrame, experts: Sequence[str]) -> str:
    """`table` as HTML: every text escaped, numbers right-aligned, experts' columns shaded."""
    def cell(tag: str, column: str, text: str, number: bool = False) -> str:
        classes = " ".join(c for c in ("num" if number else "", "expert" if column in experts else "") if c)
        return f'<{tag} data-column="{html.escape(column)}" class="{classes}">{html.escape(text)}</{tag}>'

    head = "".join(cell("th", str(c), str(c)) for c in table.columns)
    rows = ["".join(cell("td", str(c), _number(str(c), v), isinstance(v, numbers.Real) and not isinstance(v, bool))
                    for c, v in zip(table.columns, row)) for row in table.itertuples(index=False)]
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _url(path: Path, out: Path) -> str:
    return quote(path.relative_to(out).as_posix())


def _thumbnail(card: CardView, image_file: str, out: Path) -> Path:
    """A small copy of one of the run's images among the card's assets (drawn again every time:
    a resumed run may have redrawn the image)."""
    target = asset_folder(out, card.run.name) / "thumbs" / image_file
    target.parent.mkdir(exist_ok=True)
    with Image.open(card.run / "images" / image_file) as image:
        image.thumbnail((THUMBNAIL, THUMBNAIL))
        with atomic(target) as tmp:
            image.save(tmp, format="PNG")
    return target


def _grid(card: CardView, out: Path) -> str:
    """Styles down, topics across; each cell the first seed of every phrasing and setting."""
    frame = card.frame
    first = frame[frame["seed"] == frame["seed"].min()]
    topics = list(dict.fromkeys(frame["topic"]))
    rows = []
    for style, block in first.groupby("style", sort=False):
        cells = []
        for topic in topics:
            images = "".join(
                f'<img src="{_url(_thumbnail(card, r.image_file, out), out)}" alt="{html.escape(r.prompt)}" '
                f'title="{html.escape(f"{r.prompt} · {r.setting}")}">'
                for r in block[block["topic"] == topic].itertuples())
            cells.append(f'<td><div class="thumbs">{images}</div></td>')
        rows.append(f"<tr><th>{html.escape(style)}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(t)}</th>" for t in topics)
    return (f'<p class="note">The first seed of each phrasing (short, detailed) and setting; hover for the prompt.</p>'
            f"<table><thead><tr><th>style</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _section(heading: str, cards: Sequence[CardView], out: Path) -> str:
    parts = []
    for card in cards:
        body = _grid(card, out) if heading == GRID else ""
        if heading == "Protocol":
            body += f"<p>{html.escape(card.protocol)}</p>"
        if heading in card.tables:
            body += _table(card.tables[heading], card.experts)
        if card.notes.get(heading):
            body += f'<p class="note">{html.escape(card.notes[heading])}</p>'
        if heading in card.plots:
            body += f'<img class="plot" src="{_url(card.plots[heading], out)}" alt="{html.escape(heading)}">'
        parts.append(f'<div class="card"><h3>{html.escape(card.model)}</h3>{body}</div>')
    return f'<h2>{html.escape(heading)}</h2><div class="cards">{"".join(parts)}</div>'


def write(out: Path, cards: Sequence[CardView]) -> Path:
    """`out`/index.html: the cards' sections in order, one column per card."""
    title = "Report card: " + " vs ".join(card.model for card in cards)
    headings = ["Protocol", *dict.fromkeys(h for card in cards for h in [*card.tables, *card.notes]), GRID]
    page = (f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style><body style='--cards: {len(cards)}'><h1>{html.escape(title)}</h1>"
            f"<p class='note'>Judges' means on their own scales; shaded: the original study's experts' median "
            f"rating of GLIDE's images for the same style, topic or phrasing (0-4).</p>"
            + "".join(_section(h, cards, out) for h in headings) + "</body></html>")
    path = out / "index.html"
    with atomic(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
