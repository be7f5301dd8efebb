"""Files that leave the playground: PNGs that carry their settings, ZIPs and tables.

PNG metadata uses AUTOMATIC1111's "parameters" text chunk, so a saved image opens in PNG Info
tools (A1111, ComfyUI, civitai) with its prompt and settings. A PNG dropped on the page is read
for that chunk alone: its header and text chunks, never its pixels, within the limits of
`playground.limits`, and its text is parsed in one pass (no regex that backtracks). CSVs go
through `playground.csv_files`.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import pandas as pd
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .. import limits
from ..csv_files import csv_text
from ..errors import PlaygroundError
from ..files import atomic

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOT_A_PNG = ("This file is not a PNG with generation parameters (an image saved by the playground or by "
             "AUTOMATIC1111 carries them).")
_SPACE = re.compile(r"\s*")
_QUOTED = re.compile(r'"(?:\\.|[^\\"])*+"')  # a JSON string; possessive, so a failed match never backtracks
_KEY_CHARS = frozenset("_ -/")  # with letters and digits, what a key is made of (as in A1111's regex)
_DECODER = json.JSONDecoder(strict=False)


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
    """Read a ``parameters`` text back: ``prompt``, ``negative_prompt`` and every ``Key: value`` of
    its last line (when that line starts with one and holds at least three).

    Reads as A1111's PNG Info does, in one pass: its regex (re.findall) backtracks over a long
    line with few colons for minutes (24 seconds for 32,000 characters)."""
    *head, last = text.strip().split("\n")
    fields, keyed = _fields(last)
    if not keyed or len(fields) < 3:
        head, fields = [*head, last], []
    prompt_lines, negative_lines, in_negative = [], [], False
    for line in head:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:") :].strip()
        (negative_lines if in_negative else prompt_lines).append(line)
    return {"prompt": "\n".join(prompt_lines), "negative_prompt": "\n".join(negative_lines), **dict(fields)}


def _fields(line: str) -> tuple[list[tuple[str, str]], bool]:
    """The ``Key: value`` pairs of A1111's settings line in order, and whether the line starts
    with one. Text between pairs that is no pair is skipped, as A1111's regex skips it; each
    character is looked at a bounded number of times."""
    pairs: list[tuple[str, str]] = []
    first, at = -1, 0
    while (colon := line.find(":", at)) >= 0:
        key_start = _key_start(line, colon, at)
        if key_start == colon:  # no key before this colon: look for the next
            at = colon + 1
            continue
        first = key_start if first < 0 else first
        value, at = _value(line, colon + 1)
        pairs.append((line[key_start:colon], value))
    return pairs, first == _SPACE.match(line).end()


def _key_start(line: str, colon: int, floor: int) -> int:
    """Where the key that ends at `colon` starts (`colon` itself when there is none): the run of
    letters, digits, '_', ' ', '-' and '/' before it, not before `floor`, from its first letter,
    digit or '_'."""
    start = colon
    while start > floor and (line[start - 1].isalnum() or line[start - 1] in _KEY_CHARS):
        start -= 1
    while start < colon and not (line[start].isalnum() or line[start] == "_"):
        start += 1
    return start


def _value(line: str, at: int) -> tuple[str, int]:
    """The value after a key's colon at `at` (a JSON string followed by a comma or the line's end,
    else the text up to the next comma; quoted text is JSON-decoded where it can be), and where
    the next key may start. A quoted value's scan stops at the next unescaped quote, so no two
    scans cover the same text."""
    start = _SPACE.match(line, at).end()
    quoted = _QUOTED.match(line, start)
    if quoted and (quoted.end() == len(line) or line[quoted.end()] == ","):
        end = quoted.end()
    else:
        end = line.find(",", start) % (len(line) + 1)  # -1 (no comma) becomes the line's end
    value = line[start:end].strip()
    if value.startswith('"'):
        try:
            value = _DECODER.decode(value)
        except json.JSONDecodeError:  # an unclosed quote, an escape JSON does not know: the text as written
            pass
    return value, end + 1


def save_png(image: Image.Image, path: Path, parameters: str) -> Path:
    """Write `image` as PNG with `parameters` in a tEXt chunk of that name (atomically)."""
    info = PngInfo()
    info.add_text("parameters", parameters)
    with atomic(path) as tmp:
        image.save(tmp, format="PNG", pnginfo=info)
    return path


def read_parameters(path: Path | str) -> str:
    """The ``parameters`` text of a PNG, read from its chunks without decoding a pixel.

    A dropped PNG is the visitor's: its header is held to the pixel limit, the text to
    `limits.parameters_chars` (a compressed one is inflated no further), so a small file cannot
    cost gigabytes or minutes. Every problem is a sentence (PlaygroundError)."""
    limit = limits.parameters_chars()
    with open(path, "rb") as file:
        if file.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
            raise PlaygroundError(NOT_A_PNG)
        for kind, size in _chunks(file):
            if kind == b"IHDR":
                limits.image_pixels(*struct.unpack(">II", _read(file, 8)), "This PNG")
            elif kind in (b"tEXt", b"zTXt", b"iTXt") and size > 11 and file.read(11) == b"parameters\0":
                if size > 4 * limit + 1024:  # 4 bytes a character at most, and iTXt's language tags
                    raise _too_long(limit)
                return _text(kind, _read(file, size - 11), limit)
            elif kind == b"IEND":
                break
    raise PlaygroundError("This PNG carries no generation parameters (no 'parameters' text chunk).")


def _chunks(file: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """Each chunk's type and data length, the file at its data; what the caller leaves unread
    (the pixels, other text) is skipped. The first chunk must be the header."""
    header = True
    while len(head := file.read(8)) == 8:
        size, kind = struct.unpack(">I4s", head)
        if header and kind != b"IHDR":
            raise PlaygroundError(NOT_A_PNG)
        start, header = file.tell(), False
        yield kind, size
        file.seek(start + size + 4)  # the data and its CRC


def _read(file: BinaryIO, size: int) -> bytes:
    data = file.read(size)
    if len(data) < size:
        raise PlaygroundError(NOT_A_PNG)
    return data


def _text(kind: bytes, data: bytes, limit: int) -> str:
    """The text of a tEXt, zTXt or iTXt chunk after its keyword, at most `limit` characters (Latin-1
    has one byte a character, UTF-8 up to four)."""
    if kind == b"tEXt":
        raw, encoding = data, "latin-1"
    elif kind == b"zTXt":
        raw, encoding = _inflate(data[1:], limit), "latin-1"
    else:  # a compression flag and method, a language tag, a translated keyword, the text
        parts = data[2:].split(b"\0", 2)
        if len(parts) < 3:
            raise PlaygroundError(NOT_A_PNG)
        raw, encoding = (_inflate(parts[2], 4 * limit) if data[:1] == b"\1" else parts[2]), "utf-8"
    text = raw.decode(encoding, errors="replace")
    if len(text) > limit:
        raise _too_long(limit)
    return text


def _inflate(data: bytes, most: int) -> bytes:
    """`data` decompressed, but to no more than `most` + 1 bytes: a few KB can inflate to
    gigabytes, and one byte past `most` is enough to refuse the text as too long."""
    try:
        return zlib.decompressobj().decompress(data, most + 1)
    except zlib.error:
        raise PlaygroundError(NOT_A_PNG) from None


def _too_long(limit: int) -> PlaygroundError:
    return PlaygroundError(f"This PNG's parameters text is longer than {limit:,} characters, the most a prompt, a "
                           "negative prompt and a subject within the prompt limit need; it was not read.")


def image_names(frame: pd.DataFrame, prefix: str = "") -> list[str]:
    """The one naming scheme of saved images: ``{prefix}rROW-cCOLUMN-sSEED.png``, counted from 1
    as the grid labels its rows and columns (unique in a grid, and known before the grid is
    complete, so a streamed image is saved once under its final name)."""
    return [f"{prefix}r{row.row + 1}-c{row.column + 1}-s{row.seed}.png" for row in frame.itertuples()]


def save_images(frame: pd.DataFrame, images: Sequence[Image.Image], folder: Path, prefix: str = "") -> list[Path]:
    """Save every image of a result under `image_names`, each PNG with its parameters."""
    return [
        save_png(image, folder / name, a1111_parameters(row))
        for name, row, image in zip(image_names(frame, prefix), frame.to_dict("records"), images)
    ]


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
