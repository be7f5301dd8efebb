"""Hardening, round three (#23): what a dropped PNG, an API script or a damaged file on disk can do.

One group of tests per class: a PNG parameters text that made the parser backtrack for minutes,
image bombs, numbers inside a PNG, Markdown injection, CSV injection through line breaks inside a
cell, Prompt S/R terms past the csv module's limit, and caches that cannot be read.
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
import re
import resource
import sqlite3
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from markdown_it import MarkdownIt
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from playground import GuidanceSetting, compare
from playground.catalog.templates import load_templates
from playground.comparison import Comparison
from playground.csv_files import FORMULA_PREFIXES, LINE_BREAKS, csv_text
from playground.errors import PlaygroundError
from playground.limits import MAX_IMAGE_PIXELS, parameters_chars
from playground.render.export import parse_parameters, read_parameters, write_zip
from playground.render.markdown import text
from playground.render.tables import details, legend
from playground.research.prefs import Pair, export_magic
from playground.stores.library import Library
from playground.types import Column
from playground.workflow.compare import stream_to_folder
from playground.workflow.prompt_sr import expand, parse
from playground.workflow.restore import from_parameters

from .test_hardening import refused
from .test_library import record
from .test_ui_api import SETTINGS

SCORER = "tiny-offline-clip"
SETTINGS_LINE = "Steps: 2, Sampler: default, CFG scale: 4, "
A1111_REGEX = re.compile(r'\s*([\w][\w \-/]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')  # AUTOMATIC1111's, backtracking


def a1111_reading(parameters: str) -> dict[str, str]:
    """How AUTOMATIC1111's PNG Info (and the playground before this round) reads a parameters
    text: the reference on short text, where its regex is quick."""
    *head, last = parameters.strip().split("\n")
    if not A1111_REGEX.match(last) or len(A1111_REGEX.findall(last)) < 3:
        head, last = [*head, last], ""
    prompt, negative, in_negative = [], [], False
    for line in head:
        if line.startswith("Negative prompt:"):
            in_negative, line = True, line[len("Negative prompt:") :].strip()
        (negative if in_negative else prompt).append(line)
    found = {"prompt": "\n".join(prompt), "negative_prompt": "\n".join(negative)}
    for key, value in A1111_REGEX.findall(last):
        found[key] = json.loads(value, strict=False) if value.startswith('"') else value.strip()
    return found


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def handmade_png(path: Path, width: int, height: int, *chunks: bytes, pixels: bytes = b"\x00") -> Path:
    """A PNG written chunk by chunk: any declared size, any pixel data (decodable or not), and
    the given chunks after the pixels, where a reader must skip the pixels to find them."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + b"".join(chunks)
                     + chunk(b"IEND", b""))
    return path


def png_with(path: Path, parameters: str, compressed: bool = False) -> Path:
    """An 8 x 8 PNG carrying `parameters` as PIL writes it (tEXt, zTXt, or iTXt for non-Latin-1)."""
    info = PngInfo()
    info.add_text("parameters", parameters, zip=compressed)
    Image.new("RGB", (8, 8)).save(path, format="PNG", pnginfo=info)
    return path


def restore_png(client, path: Path) -> tuple:
    return client.predict(handle_file(str(path)), api_name="/restore_png")


def refused_png(client, path: Path, message: str) -> None:
    with pytest.raises(AppError) as error:
        restore_png(client, path)
    assert message in html.unescape(str(error.value)) and "Something went wrong" not in str(error.value)


# 1. a parameters text that made the parser backtrack (24 s for 32,000 characters)
HOSTILE_TAILS = {  # what follows the settings line, repeated: every way to make a regex search restart
    "letters": "a", "words": "ab ", "colons": ":", "commas": ",", "key runs": "a-b/c ", "dash colons": "-:",
    "pairs": "a: 1, ", "open quotes": 'a: "x, ', "escaped quotes": '\\"', "backslashes": "\\", "quote pairs": 'a: ""x',
    "spaces": " ", "tabs and colons": "\t:", "quoted commas": 'k: "a, b", ', "unicode": "é٣ß: ",
}


def read_as_automatic1111_reads(parameters: str) -> dict[str, str]:
    """`parse_parameters(parameters)`, checked against A1111's reading where that one succeeds (it
    raises on a quoted value that is no JSON string; ours keeps such a value as written)."""
    found = parse_parameters(parameters)
    try:
        expected = a1111_reading(parameters)
    except json.JSONDecodeError:
        return found
    assert found == expected, parameters
    return found


@pytest.mark.parametrize("tail", HOSTILE_TAILS.values(), ids=HOSTILE_TAILS.keys())
def test_hostile_settings_lines_are_read_as_automatic1111_reads_them(tail):
    for repeats in (1, 7, 60):
        found = read_as_automatic1111_reads("a prompt\nNegative prompt: blurry\n" + SETTINGS_LINE + tail * repeats)
        assert (found["prompt"], found["negative_prompt"], found["Steps"]) == ("a prompt", "blurry", "2")


def test_random_parameters_texts_are_read_as_automatic1111_reads_them():
    pieces = ["a", "B", "1", "_", " ", "-", "/", ":", ",", '"', "\\", "\t", "é", "\r", "\n", "\x0b", "\u2028", "x: ",
              ", ", ': "', '\\"', "Steps: 2, ", "Negative prompt: "]
    rng = random.Random(23)
    for _ in range(5000):
        read_as_automatic1111_reads("".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))))


def test_200k_character_hostile_lines_parse_in_one_pass():
    """Every shape at 200,000 characters, parsed in a child process held to 60 CPU seconds (the
    whole batch needs about two): A1111's regex needs 24 seconds for 32,000 characters of the
    first shape and hours for these, so a parser that backtracks is stopped, not waited for."""
    texts = [f"a prompt\n{SETTINGS_LINE}{tail * (200_000 // len(tail))}" for tail in HOSTILE_TAILS.values()]
    child = ("import json, sys\nfrom playground.render.export import parse_parameters\n"
             "print(json.dumps([parse_parameters(t) for t in json.load(sys.stdin)]))")
    done = subprocess.run([sys.executable, "-c", child], input=json.dumps(texts), capture_output=True, text=True,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CPU, (60, 60)), check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    for found in json.loads(done.stdout):
        assert found["prompt"] == "a prompt"
        assert (found["Steps"], found["Sampler"], found["CFG scale"]) == ("2", "default", "4")


@pytest.mark.parametrize("compressed", [False, True])
def test_a_png_text_past_the_limit_is_refused_unread(tmp_path, compressed):
    limit = parameters_chars()
    hostile = png_with(tmp_path / "x.png", f"a prompt\n{SETTINGS_LINE}" + "a" * 200_000, compressed)
    with pytest.raises(PlaygroundError, match=f"longer than {limit:,} characters"):
        read_parameters(hostile)
    restored = png_with(tmp_path / "prompt.png", "p" * 5_000_000 + f"\n{SETTINGS_LINE}", compressed=True)
    assert restored.stat().st_size < 50_000  # a small upload that inflates to 5 MB
    with pytest.raises(PlaygroundError, match=f"longer than {limit:,} characters"):
        read_parameters(restored)
    fits = png_with(tmp_path / "fits.png", "✓" * limit, compressed)  # not Latin-1: an iTXt chunk, 3 bytes each
    assert read_parameters(fits) == "✓" * limit


def test_a_restored_prompt_is_held_to_the_prompt_limit(client, tmp_path):
    long_prompt = png_with(tmp_path / "long.png", "p" * 30_000 + f"\n{SETTINGS_LINE}Seed: 1", compressed=True)
    refused_png(client, long_prompt, "The PNG's prompt has 30,000 characters; the limit is 2,000.")
    bomb = png_with(tmp_path / "bomb.png", "p" * 5_000_000, compressed=True)
    refused_png(client, bomb, "This PNG's parameters text is longer than 32,000 characters")


# 2. image bombs: the header is read, the pixels never
def test_an_image_over_the_pixel_limit_is_refused_from_its_header(client, tmp_path):
    text_chunk = chunk(b"tEXt", b"parameters\0a prompt\n" + SETTINGS_LINE.encode() + b"Seed: 1")
    for side in (13_000, 20_000):
        bomb = handmade_png(tmp_path / f"{side}.png", side, side, text_chunk, pixels=zlib.compress(b"\0" * 10**6))
        message = f"This PNG is {side:,} x {side:,} pixels; the limit is {MAX_IMAGE_PIXELS:,} pixels"
        with pytest.raises(PlaygroundError, match=message):
            read_parameters(bomb)
        refused_png(client, bomb, message)


def test_the_parameters_are_read_without_decoding_a_pixel(client, tmp_path):
    """8000 x 8000 (under the limit), pixel data that is no zlib stream at all, the text chunk
    after it: PIL could not decode this image; the restore never tries."""
    parameters = "a photo of melanoma\nSteps: 3, Sampler: default, CFG scale: 4, Seed: 11, Size: 64x64"
    for kind, data in ((b"tEXt", b"parameters\0" + parameters.encode()),
                       (b"zTXt", b"parameters\0\0" + zlib.compress(parameters.encode())),
                       (b"iTXt", b"parameters\0\0\0\0\0" + parameters.encode())):
        png = handmade_png(tmp_path / "big.png", 8000, 8000, chunk(kind, data), pixels=b"not pixels")
        assert read_parameters(png) == parameters
        values = restore_png(client, png)
        assert values[-1] == "Restored from the dropped PNG."
        assert "a photo of melanoma" in values


@pytest.mark.parametrize(("content", "message"), [
    (b"", "This file is not a PNG with generation parameters"),
    (b"GIF89a;", "This file is not a PNG with generation parameters"),
    (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0", "This file is not a PNG with generation parameters"),
    (b"\x89PNG\r\n\x1a\n\0\0\0\0IEND", "This file is not a PNG with generation parameters"),
    (b"\x89PNG\r\n\x1a\n", "This PNG carries no generation parameters"),
])
def test_a_file_that_is_no_png_gets_a_sentence(client, tmp_path, content, message):
    path = tmp_path / "not.png"
    path.write_bytes(content)
    refused_png(client, path, message)


# 3. numbers inside a PNG's parameters
@pytest.mark.parametrize(("field", "message"), [
    ("Seed: nan", "The PNG's Seed must be a whole number between 0 and 4,294,967,295, got nan."),
    ("Seed: inf", "got inf"), ("Seed: -Infinity", "got -inf"), ("Seed: 1e300", "got 1e+300"),
    ("Seed: -1", "got -1."), ("Seed: 4294967296", "got 4294967296."), ("Seed: 12.5", "got 12.5."),
    ("Seed: 0x10", "The PNG's Seed must be a number, got '0x10'."),
    ("Steps: inf", "The PNG's Steps must be a whole number between 1 and 100, got inf."),
    ("Steps: 0", "got 0."), ("Steps: -5", "got -5."), ("Steps: 1e300", "got 1e+300"), ("Steps: 2.5", "got 2.5"),
    ("CFG scale: nan", "The PNG's CFG scale must be a number between 0 and 50, got nan."),
    ("CFG scale: -1", "got -1"), ("CFG scale: 1e300", "got 1e+300"),
    ("CLIP guidance: inf", "The PNG's CLIP guidance must be a number between 0 and 10000, got inf."),
    ("Size: 512xnan", "The PNG's height must be a whole number between 64 and 1,024, got nan."),
    ("Size: 99999x512", "got 99999"), ("Size: -512x512", "got -512"), ("Size: 512", "Size must be WIDTHxHEIGHT"),
])
def test_numbers_in_a_png_are_checked_like_any_number_from_outside(field, message):
    parameters = f"a photo of melanoma\nSampler: default, Model: tiny-offline, Template: photo-short, {field}"
    with pytest.raises(PlaygroundError) as error:
        from_parameters(parameters, load_templates(), offered=["tiny-offline"])
    assert message in str(error.value)


@pytest.mark.parametrize(("field", "message"), [
    ("Seed: nan", "The PNG's Seed must be a whole number between 0 and 4,294,967,295, got nan."),
    ("Steps: inf", "The PNG's Steps must be a whole number between 1 and 100, got inf."),
    ("Size: 64x99999", "The PNG's height must be a whole number between 64 and 1,024, got 99999."),
])
def test_the_app_answers_a_bad_number_in_a_png_with_its_sentence(client, tmp_path, field, message):
    png = png_with(tmp_path / "n.png", f"a photo of melanoma\nSampler: default, Seed: 1, Steps: 2, {field}")
    refused_png(client, png, message)


# 4. Markdown injection: user text is shown as text
HOSTILE_TEXT = [
    "![x](http://127.0.0.1:9/beacon)", "[Session expired: sign in](http://host.example/login)",
    "<img src=http://host.example/x>", "see http://host.example/a, www.host.example and me@host.example",
    "xhttp://host.example/y", "<http://host.example>", "[ref]: http://host.example\n[ref]",
    "| a | b |\n|---|---|\n| c | d |", "# Heading\n- item\n1. item\n> quote\n---\n===",
    "$$\\href{http://host.example}{x}$$", "`code` **bold** _em_ ~~gone~~ \\[x](y)", "&lt;img&gt; &amp; &#x3C;",
]
MARKUP = re.compile(r"<(a|img|table|h[1-6]|del|blockquote|ol|hr|pre|em)\b")
AUTOLINKED = re.compile(r"(?i)(?<!\\)://|www\.|(?<!\\)@")  # what GitHub-flavoured autolinking picks up


def shown_as_text(markdown: str, *hostile: str) -> None:
    """`markdown` renders (CommonMark with GitHub's tables and strikethrough) with no markup made
    of user text, shows each `hostile` text as typed, and leaves nothing for an autolinker."""
    page = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    assert not MARKUP.search(page), page
    assert not AUTOLINKED.search(markdown), markdown
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    for value in hostile:
        assert " ".join(value.split()) in words, value


def test_text_escapes_every_markdown_construct():
    for value in HOSTILE_TEXT:
        shown_as_text(f"before {text(value)} after", value)
    assert text("CFG 7.5 · 20 steps - a dermoscopic photo") == "CFG 7.5 · 20 steps - a dermoscopic photo"


def test_legend_and_details_show_prompts_negative_prompts_and_sr_terms_as_text(tmp_path):
    prompt, negative, term = HOSTILE_TEXT[0] + " melanoma", HOSTILE_TEXT[8], HOSTILE_TEXT[1]
    columns = expand(Column(prompt, "free"), f'melanoma, "{term}"')
    grid = Comparison(HOSTILE_TEXT[3], columns, [GuidanceSetting(4.0, 2, negative_prompt=negative)], images_per_cell=1,
                      model_id="tiny-offline", guidance_scorer_id=SCORER)
    *_, saved = stream_to_folder(grid, SCORER, tmp_path / "grid")
    frame = saved.frame
    shown_as_text(legend(frame, 1), prompt, prompt.replace("melanoma", term), negative.split("\n")[0])
    for position in range(len(frame)):
        shown_as_text(details(frame.iloc[position], position + 1), frame["prompt"][position], negative.split("\n")[1])


def test_the_restore_status_and_the_warnings_show_outside_text_as_text(client, tmp_path):
    model = "[sign in](http://h.example)"  # the label quotes up to 40 characters of it
    png = png_with(tmp_path / "m.png", f"a photo of melanoma\n{SETTINGS_LINE}Seed: 3, Model: {json.dumps(model)}")
    status = restore_png(client, png)[-1]
    shown_as_text(status, f"(made with {model!r}, not offered here)")
    subject = HOSTILE_TEXT[0]
    warnings = client.predict(subject=subject, template_1="free", prompt_1="A photo", template_2="off", prompt_2="",
                              template_3="off", prompt_3="", template_4="off", prompt_4="", settings=SETTINGS,
                              api_name="/confusion_warnings")
    shown_as_text(warnings, subject)


# 5. CSV injection through a line break inside a cell
HOSTILE_CELLS = ["note\r=cmd|' /C calc'!A0", "=1+1", "+1", "-2+3", "@SUM(A1)", "\t=x", "\r=x", "a\r\n=b", "a\n\r@c",
                 *(f"note{brk}{prefix}cmd|' /C calc'!A0" for brk in LINE_BREAKS for prefix in FORMULA_PREFIXES)]
NUMBER = re.compile(r"-\d+(\.\d+)?(,|$)")


def no_row_starts_a_formula(written: str, cells: list[str]) -> None:
    """Read back with the csv module (every cell as written, apostrophes aside) and line by line
    with `str.splitlines` (as a naive reader splits rows): nothing starts with a formula."""
    rows = list(csv.reader(io.StringIO(written, newline="")))
    found = {cell for row in rows[1:] for cell in row}
    for cell in cells:
        assert any(value.replace("'", "") == cell.replace("'", "") for value in found), cell
    for value in found:
        assert not value.startswith(tuple(FORMULA_PREFIXES)) or NUMBER.fullmatch(value), value
    for line in written.splitlines():  # a number (-1.5) is no formula
        assert not line.lstrip('"').startswith(tuple(FORMULA_PREFIXES)) or NUMBER.match(line), line


def test_every_cell_with_a_line_break_is_quoted_and_no_line_starts_a_formula():
    frame = pd.DataFrame({"prompt": HOSTILE_CELLS, "seed": range(len(HOSTILE_CELLS)), "score": -1.5})
    no_row_starts_a_formula(csv_text(frame), HOSTILE_CELLS)
    back = pd.read_csv(io.StringIO(csv_text(frame)))
    assert back["seed"].tolist() == list(range(len(HOSTILE_CELLS))) and (back["score"] == -1.5).all()


def test_the_library_csv_the_zip_table_and_pairs_csv_hold_no_formula(tmp_path):
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    for i, cell in enumerate(HOSTILE_CELLS):
        library.log(record(i, prompt=f"p{i} {cell}", note=cell))
    no_row_starts_a_formula(library.export(tmp_path / "out.csv").read_bytes().decode(), HOSTILE_CELLS)
    images = [png_with(tmp_path / f"{i}.png", "p") for i in range(len(HOSTILE_CELLS))]
    archive = write_zip(pd.DataFrame({"prompt": HOSTILE_CELLS}), images, tmp_path / "all.zip")
    with zipfile.ZipFile(archive) as z:
        no_row_starts_a_formula(z.read("results.csv").decode("utf-8"), HOSTILE_CELLS)
    pairs = [Pair(cell, cell, str(images[0]), str(images[1]), "library") for cell in HOSTILE_CELLS]
    no_row_starts_a_formula((export_magic(pairs, tmp_path / "magic") / "pairs.csv").read_bytes().decode(),
                            HOSTILE_CELLS)


# 6. a Prompt S/R term past the csv module's field limit
@pytest.mark.parametrize(("spec", "message"), [
    ("x" * 131_073 + ", y", "The Prompt S/R line has 131,076 characters; the limit is 16,016."),
    ("melanoma, " + "y" * 2_001, "A Prompt S/R term has 2,001 characters; the limit is 2,000."),
    ('melanoma, "' + "y" * 5_000 + '"', "A Prompt S/R term has 5,000 characters"),
    ("melanoma\r, nevus", "Prompt S/R could not be read as one line of comma-separated terms"),
])
def test_prompt_sr_terms_are_held_to_the_prompt_limit(client, spec, message):
    with pytest.raises(PlaygroundError, match=re.escape(message)):
        parse(spec)
    refused(client, message, prompt_sr=spec)


# 7. caches that cannot be read are set aside and rebuilt
@pytest.fixture
def caches_on(monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("PLAYGROUND_IMAGE_CACHE_MB", "64")
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "cache"


def judged() -> pd.DataFrame:
    return compare("melanoma", ["photo-short", "histopathology-short"], [GuidanceSetting(4.0, 2)], images_per_cell=1,
                   model_id="tiny-offline", scorer_id=SCORER).frame


@pytest.mark.parametrize("damage", ["garbage", "cut in half"])
def test_a_damaged_score_cache_is_set_aside_and_the_compare_goes_on(caches_on, caplog, damage):
    first = judged()
    path = caches_on / "scores.sqlite"
    data = path.read_bytes()
    damaged = b"not a database " * 4096 if damage == "garbage" else data[: len(data) // 2]
    path.write_bytes(damaged)
    again = judged()
    assert again["clip_prompt"].tolist() == first["clip_prompt"].tolist()
    assert [p.read_bytes() for p in caches_on.glob("scores.sqlite.corrupt-*[0-9]")] == [damaged]
    assert "could not be read" in caplog.text and "set aside as scores.sqlite.corrupt-" in caplog.text
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM readings").fetchone()[0] >= 2  # rebuilt


@pytest.mark.parametrize("cut", ["substr(vector, 1, length(vector) - 5)", "substr(vector, 1, 16)", "'text'", "42"])
def test_vector_rows_cut_short_are_computed_again(caches_on, cut):
    first = judged()
    with sqlite3.connect(caches_on / "scores.sqlite") as db:
        db.execute(f"UPDATE readings SET vector = {cut}")
    assert judged()["clip_prompt"].tolist() == first["clip_prompt"].tolist()
    with sqlite3.connect(caches_on / "scores.sqlite") as db:  # each damaged row was stored whole again
        assert db.execute("SELECT COUNT(*) FROM readings WHERE typeof(vector) != 'blob' OR length(vector) <= 16"
                          ).fetchone() == (0,)


def test_garbage_and_truncated_pngs_in_the_image_cache_are_drawn_again(caches_on):
    first = judged()
    files = sorted((caches_on / "images").glob("*/*.png"))
    assert len(files) == 2
    files[0].write_bytes(b"garbage")
    files[1].write_bytes(files[1].read_bytes()[:100])
    again = judged()
    assert not again["from_cache"].any() and again["clip_prompt"].tolist() == first["clip_prompt"].tolist()
    assert judged()["from_cache"].all()  # the damaged files were replaced
