"""The labelled grid as one PNG, in AUTOMATIC1111's X/Y plot style: prompt columns on top, model
x guidance rows on the left, each cell's seeds side by side on its heat colour, the seed, badges
and marks under every thumbnail, and the legend at the bottom.

It draws `grid.layout`, the same layout the app's HTML grid shows, so the PNG saved beside a
comparison reads like the screen. The text uses DejaVu Sans (shipped with matplotlib) because it
has the ★ ◆ ✓ ⚠ glyphs the marks use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw, ImageFont, ImageOps

from ..errors import PlaygroundError
from .grid import Cell, CellImage, Grid, heat_colour, layout

INK, MUTED, BACKGROUND, RULE = (25, 25, 25), (75, 75, 75), (255, 255, 255), (200, 200, 200)  # MUTED: header details
PROMPT_LINES = 3  # a column header's prompt, wrapped, then cut with an ellipsis
ROW_DETAIL_LINES = 6  # a row header's full model id, setting and negative prompt
ELLIPSIS = "…"

# Measures text; its canvas is never drawn on.
_MEASURE = ImageDraw.Draw(Image.new("RGB", (1, 1)))


@dataclass(frozen=True)
class Style:
    """Sizes derived from the thumbnail size, so a larger grid is the same picture, scaled."""

    thumb: int
    title: ImageFont.FreeTypeFont
    body: ImageFont.FreeTypeFont
    line: int  # pixels between baselines of body text
    gap: int  # between thumbnails, and inside a cell's edge
    row_header: int  # width of the row headers' band

    @classmethod
    def for_thumb(cls, thumb: int) -> Style:
        body = max(10, round(thumb / 13))  # 15 px at 192: four seeds x four columns stay legible
        return cls(thumb, _font(body + 1, bold=True), _font(body), round(body * 1.3), max(4, thumb // 24),
                   round(thumb * 1.3))


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans from matplotlib's data (imported here only: drawing is the one user)."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/{name}", size)


def _fits(text: str, font: ImageFont.FreeTypeFont, width: int) -> bool:
    return _MEASURE.textlength(text, font=font) <= width


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """`text` in lines no wider than `width` pixels: broken between words, and a word wider than
    a line between characters (whole glyphs always)."""
    lines: list[str] = []
    for word in text.split():
        if lines and _fits(f"{lines[-1]} {word}", font, width):
            lines[-1] += f" {word}"
            continue
        lines.append("")
        for char in word:
            if lines[-1] and not _fits(lines[-1] + char, font, width):
                lines.append("")
            lines[-1] += char
    return lines


def cut(lines: list[str], font: ImageFont.FreeTypeFont, width: int, most: int) -> list[str]:
    """The first `most` lines, the last ending in an ellipsis when some were left out."""
    if len(lines) <= most:
        return lines
    last = lines[most - 1]
    while last and not _fits(last + ELLIPSIS, font, width):
        last = last[:-1]
    return [*lines[: most - 1], last.rstrip() + ELLIPSIS]


def pack(items: list[str], font: ImageFont.FreeTypeFont, width: int, sep: str = " · ") -> list[str]:
    """`items` joined by `sep` in lines no wider than `width`, breaking between items where one
    fits (inside an item only when it is wider than a line on its own)."""
    lines: list[str] = []
    for item in items:
        if lines and _fits(lines[-1] + sep + item, font, width):
            lines[-1] += sep + item
        else:
            lines += wrap(item, font, width)
    return lines


def caption(image: CellImage, style: Style) -> list[str]:
    """The lines under a thumbnail: its seed (or file), then badges, then marks."""
    return [image.origin, *pack(image.badges, style.body, style.thumb),
            *pack(image.marks, style.body, style.thumb, sep="  ")]


def _text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], lines: list[str], font: ImageFont.FreeTypeFont,
          line: int, fill: tuple[int, int, int] = INK) -> None:
    for i, text in enumerate(lines):
        draw.text((xy[0], xy[1] + i * line), text, fill=fill, font=font)


@dataclass(frozen=True)
class _Plan:
    """Every text block wrapped and every band measured, before anything is drawn."""

    column_text: list[tuple[list[str], list[str]]]  # (title, prompt lines) per column
    row_text: list[tuple[list[str], list[str]]]  # (title lines, detail lines) per row
    captions: dict[int, list[str]]  # by frame position
    legend: list[str]
    cell_width: int
    thumb_height: int  # the tallest thumbnail: wide images leave no empty band
    header_height: int
    row_heights: list[int]
    width: int


def _plan(grid: Grid, style: Style, thumb_height: int) -> _Plan:
    seeds = max((len(cell.images) for cell in grid.cells), default=1)
    cell_width = seeds * style.thumb + (seeds + 1) * style.gap
    inner = cell_width - 2 * style.gap
    column_text = [(cut(wrap(h.title, style.title, inner), style.title, inner, 1),
                    cut(wrap(h.detail, style.body, inner), style.body, inner, PROMPT_LINES)) for h in grid.columns]
    header_width = style.row_header - 2 * style.gap
    row_text = [(wrap(h.title, style.title, header_width),
                 cut(wrap(h.detail, style.body, header_width), style.body, header_width, ROW_DETAIL_LINES))
                for h in grid.rows]
    captions = {image.position: caption(image, style) for cell in grid.cells for image in cell.images}
    width = style.row_header + len(grid.columns) * cell_width + style.gap
    header_height = 2 * style.gap + style.line * max((len(t) + len(p) for t, p in column_text), default=1)
    row_heights = [max(_cell_height(grid, h.index, captions, style, thumb_height),
                       2 * style.gap + style.line * (len(t) + len(d))) for h, (t, d) in zip(grid.rows, row_text)]
    legend = [line for text in grid.legend for line in wrap(text, style.body, width - 2 * style.gap)]
    return _Plan(column_text, row_text, captions, legend, cell_width, thumb_height, header_height, row_heights, width)


def _cell_height(grid: Grid, row: int, captions: dict[int, list[str]], style: Style, thumb_height: int) -> int:
    """Thumbnails plus the longest caption of the row's images."""
    lines = max((len(captions[i.position]) for c in grid.cells if c.row == row for i in c.images), default=0)
    return 3 * style.gap + thumb_height + lines * style.line


def _draw_cell(canvas: Image.Image, draw: ImageDraw.ImageDraw, cell: Cell | None, box: tuple[int, int, int, int],
               thumbs: list[Image.Image], plan: _Plan, style: Style) -> None:
    """The cell's heat colour, then each seed's thumbnail with its caption."""
    draw.rectangle(box, fill=heat_colour(cell.heat if cell else None), outline=RULE)
    for i, image in enumerate(cell.images if cell else []):
        left, top = box[0] + style.gap + i * (style.thumb + style.gap), box[1] + style.gap
        thumb = thumbs[image.position]
        canvas.paste(thumb, (left + (style.thumb - thumb.width) // 2, top + (plan.thumb_height - thumb.height) // 2))
        _text(draw, (left, top + plan.thumb_height + style.gap), plan.captions[image.position], style.body, style.line)


def draw(frame: pd.DataFrame, images: list[Image.Image], thumb: int = 192) -> Image.Image:
    """The labelled grid of `frame` (any prefix of a result frame) as one image; `images[i]` is
    the image of `frame.iloc[i]`; `thumb` is a thumbnail's longer side in pixels."""
    # 1. Check inputs
    if len(images) != len(frame):
        raise PlaygroundError(f"The grid needs one image per frame row, but got {len(images)} images "
                              f"for {len(frame)} rows.")
    if thumb < 32:
        raise PlaygroundError(f"Thumbnails must be at least 32 pixels to read their captions, not {thumb}.")
    # 2. Lay out, shrink (or enlarge) each image keeping its aspect, and measure every text block
    grid, style = layout(frame), Style.for_thumb(thumb)
    thumbs = [ImageOps.contain(image.convert("RGB"), (thumb, thumb)) for image in images]
    plan = _plan(grid, style, max((t.height for t in thumbs), default=thumb))
    legend_top = plan.header_height + sum(plan.row_heights) + style.gap
    canvas = Image.new("RGB", (plan.width, legend_top + style.gap + len(plan.legend) * style.line), BACKGROUND)
    pen = ImageDraw.Draw(canvas)
    # 3. Column headers along the top
    for i, (title, prompt) in enumerate(plan.column_text):
        left = style.row_header + i * plan.cell_width + style.gap
        _text(pen, (left, style.gap), title, style.title, style.line)
        _text(pen, (left, style.gap + style.line * len(title)), prompt, style.body, style.line, MUTED)
    # 4. Each row: its header on the left, then its cells
    top = plan.header_height
    for header, (title, detail), height in zip(grid.rows, plan.row_text, plan.row_heights):
        _text(pen, (style.gap, top + style.gap), title, style.title, style.line)
        _text(pen, (style.gap, top + style.gap + style.line * len(title)), detail, style.body, style.line, MUTED)
        for i, column in enumerate(grid.columns):
            left = style.row_header + i * plan.cell_width
            box = (left, top, left + plan.cell_width - 1, top + height - 1)
            _draw_cell(canvas, pen, grid.cell(header.index, column.index), box, thumbs, plan, style)
        top += height
    # 5. The legend underneath
    _text(pen, (style.gap, legend_top), plan.legend, style.body, style.line)
    return canvas


def save(frame: pd.DataFrame, images: list[Image.Image], path: Path) -> Path:
    """Write the labelled grid of `frame` to `path` as a PNG; returns `path`."""
    draw(frame, images).save(path, format="PNG")
    return path
