"""The labelled grid as HTML: prompt columns headed by their template (the prompt on hover and
on expand), model x setting rows headed by their setting, each cell's images with score badges
and marks on its heat colour. Clicking an image enlarges it with its full evaluation (pure CSS:
the open `<details>` covers the page; a click anywhere closes it) and selects it for Prefer.

The layout is `playground.grid`'s, the one the grid PNG draws, so both say the same thing.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from urllib.parse import quote

import pandas as pd

from .grid import Cell, Grid, checklist_tree, detail_lines, heat_colour, layout


def file_url(path: object) -> str:
    """The URL Gradio serves a file of the outputs folder at (relative, so it works under a Space's prefix)."""
    return "gradio_api/file=" + quote(str(path))


EMPTY = ('<div class="pg-empty">No grid yet: choose a subject and up to 4 prompts above, then press '
         "<b>Generate</b>. Images appear here as they are drawn.</div>")

# Event delegation on the component's element survives every re-render of its HTML.
SELECT_JS = """
element.addEventListener('click', (event) => {
  const image = event.target.closest('[data-position]');
  if (!image || !event.target.closest('summary')) return;
  element.querySelectorAll('figure.pg-selected').forEach((other) => other.classList.remove('pg-selected'));
  image.classList.add('pg-selected');  // the image Prefer and Re-run act on, outlined
  trigger('click', {position: Number(image.dataset.position)});
});
"""

CSS = """
.pg-grid { overflow-x: auto; }
.pg-grid table { border-collapse: separate; border-spacing: 4px; }
.pg-grid th { text-align: left; vertical-align: top; font-weight: 600; font-size: 0.9em; }
.pg-grid thead th { min-width: 10em; max-width: 22em; }
.pg-grid thead summary { cursor: pointer; }
.pg-grid .pg-prompt { font-weight: 400; white-space: normal; margin-top: 0.3em; }
.pg-grid tbody th { max-width: 14em; white-space: normal; }
.pg-grid td { vertical-align: top; padding: 4px; border-radius: 6px; color: #1f2328; }
.pg-grid .pg-images { display: flex; gap: 4px; flex-wrap: wrap; }
.pg-grid figure { margin: 0; width: 136px; }
.pg-grid figure.pg-selected img { outline: 3px solid #f97316; outline-offset: 1px; }
.pg-grid .pg-num { font-size: 0.75em; color: #57606a; }
.pg-grid figure img { width: 128px; height: 128px; object-fit: contain; background: #fff; display: block; }
.pg-grid figcaption { font-size: 0.78em; line-height: 1.3; overflow-wrap: anywhere; }
.pg-grid summary { list-style: none; cursor: zoom-in; }
.pg-grid summary::-webkit-details-marker { display: none; }
.pg-zoom[open] > summary { position: fixed; inset: 0; z-index: 1000; background: rgba(0, 0, 0, 0.6); cursor: zoom-out; }
.pg-zoom[open] > summary img { display: none; }
.pg-zoom .pg-full { position: fixed; z-index: 1001; top: 4vh; left: 50%; transform: translateX(-50%);
  max-width: min(92vw, 900px); max-height: 92vh; overflow: auto; background: #fff; color: #1f2328;
  padding: 12px; border-radius: 8px; }
.pg-zoom .pg-full img { width: min(100%, 60vh, 768px); height: auto; display: block; margin: 0 auto 8px; }
.pg-zoom .pg-lines { white-space: pre-wrap; font-size: 0.9em; }
.pg-zoom .pg-checklist { font-size: 0.9em; margin-top: 2px; }
.pg-zoom .pg-checklist ul { list-style: none; margin: 0; padding: 0 0 0 1.2em; }
.pg-zoom .pg-checklist li::before { content: "- "; }
.pg-zoom .pg-checklist li.pg-skipped { color: #8c959f; }
.pg-dense figure { width: 100px; }
.pg-dense figure img { width: 96px; height: 96px; }
.pg-dense figcaption { font-size: 0.72em; }
.pg-legend { font-size: 0.85em; margin-top: 6px; }
.pg-empty { padding: 1em; color: #57606a; }
.pg-forming { margin-bottom: 8px; }
.pg-forming .pg-preview { width: 136px; }
.pg-forming img { width: 128px; height: 128px; object-fit: contain; background: #fff; display: block; }
"""


def _image(frame: pd.DataFrame, cell: Cell) -> str:
    parts = []
    for image in cell.images:
        row = frame.iloc[image.position]
        src, alt = html.escape(file_url(row["image_path"])), html.escape(image.origin)
        words = html.escape(" · ".join([*image.badges, *image.marks, image.origin]))
        lines = html.escape("\n".join(detail_lines(row, image.position + 1, checklist=False)))
        parts.append(
            f'<figure data-position="{image.position}"><details class="pg-zoom"><summary>'
            f'<img src="{src}" alt="{alt}" loading="lazy"></summary><div class="pg-full"><img src="{src}" alt="{alt}">'
            f'<div class="pg-lines">{lines}</div>{checklist(row)}</div></details>'
            f'<span class="pg-num">#{image.position + 1}</span>'
            f'<figcaption>{words}</figcaption></figure>'
        )
    return "".join(parts)


def checklist(row: pd.Series) -> str:
    """The enlarged view's checklist as a tree: each criterion indented under its gate (depth in
    `data-depth`), a skipped one greyed ('' without a checklist)."""
    heading, checks = checklist_tree(row)
    if not heading:
        return ""
    items = "".join(f'<li class="{"pg-skipped" if c.skipped else "pg-counted"}" data-depth="{c.depth}" '
                    f'style="margin-left: {1.2 * c.depth:.1f}em">{html.escape(c.text)}</li>' for c in checks)
    return f'<div class="pg-checklist">- {html.escape(heading)}<ul>{items}</ul></div>'


def _table(frame: pd.DataFrame, grid: Grid) -> str:
    head = "".join(
        f'<th title="{html.escape(c.detail)}"><details><summary>{html.escape(c.title)}</summary>'
        f'<div class="pg-prompt">{html.escape(c.detail)}</div></details></th>' for c in grid.columns
    )
    body = []
    for row in grid.rows:
        cells = []
        for column in grid.columns:
            cell = grid.cell(row.index, column.index)
            if cell is None:
                cells.append('<td class="pg-pending">…</td>')
                continue
            colour = "rgb({}, {}, {})".format(*heat_colour(cell.heat))
            score = "" if cell.score is None else f' data-score="{cell.score:.2f}"'
            cells.append(f'<td style="background: {colour}" data-row="{cell.row}" data-column="{cell.column}"{score}>'
                         f'<div class="pg-images">{_image(frame, cell)}</div></td>')
        body.append(f'<tr><th title="{html.escape(row.detail)}">{html.escape(row.title)}</th>{"".join(cells)}</tr>')
    return f'<table><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def data_url(image) -> str:
    """A small PIL image inline, as a JPEG data URL (a live preview is never saved)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def forming(previews: Sequence) -> str:
    """The images being denoised, shown above the grid while they form (engine.previews.Preview values)."""
    if not previews:
        return ""
    figures = "".join(  # not <figure>: those are the grid's drawn images
        f'<div class="pg-preview"><img src="{data_url(p.image)}" alt="preview of seed {p.seed}">'
        f'<span class="pg-num">r{p.row + 1} c{p.column + 1} · seed {p.seed}</span></div>' for p in previews)
    first = previews[0]
    return (f'<div class="pg-forming"><div class="pg-num">Forming (a fast preview): step {first.step} of '
            f'{first.steps}</div><div class="pg-images">{figures}</div></div>')


def render(frame: pd.DataFrame | None, previews: Sequence = ()) -> str:
    """The grid of `frame` (a saved result, possibly still streaming) as one HTML string, with the
    live previews of the images being drawn above it."""
    if frame is None or frame.empty:
        return f'<div class="pg-grid">{forming(previews)}</div>' if previews else EMPTY
    grid = layout(frame)
    legend = "".join(f"<li>{html.escape(line)}</li>" for line in grid.legend)
    dense = " pg-dense" if max(len(c.images) for c in grid.cells) > 2 else ""  # 3-4 seeds: smaller thumbnails
    return (f'<div class="pg-grid{dense}">{forming(previews)}{_table(frame, grid)}'
            f'<ul class="pg-legend">{legend}</ul></div>')
