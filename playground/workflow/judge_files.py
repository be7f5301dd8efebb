"""Judge any image: files from anywhere (another model, a camera, a PACS export) through the same
judges as a Compare grid, one row per image with the same declared columns plus `file`.

What each image is judged against, first found first: the prompt given; the prompt in a PNG's
``parameters`` text (the playground's own or AUTOMATIC1111's); the template given, filled with the
subject; the subject. The template given (else a PNG's own, when this playground knows it) says
what kind of image it is: its modality picks the checklist, the domain CLIP and whether the x-ray
classifier looks. Files are read as uploads are (at most PLAYGROUND_MAX_UPLOAD_MB, then the pixel
limit, read from the header before any pixel is decoded) and told apart by content: PNG, JPEG or
WebP, whatever the name says. A file that cannot be judged is skipped with a sentence; the rest
are judged, a batch at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from .. import limits, schema
from ..catalog.curated import load_curated
from ..catalog.templates import TemplateSet, load_templates
from ..config import get_settings
from ..csv_files import write_csv
from ..engine.progress import ProgressFn
from ..errors import PlaygroundError
from ..files import atomic
from ..judges import base as judging
from ..judges.base import Context, Judges
from ..render.export import parse_parameters, read_parameters
from .form import FREE

FORMATS = ("PNG", "JPEG", "WEBP")  # the only decoders Pillow may try: the content decides, not the name
BATCH = 16  # images read, judged and let go together: memory stays that of one batch
MAX_BATCH = 256
GREY = {"1", "L", "LA", "La"}  # kept grey ("L"): the x-ray classifier reads grey
WIDE_GREY = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}  # 16-bit or float grey (x-ray PNGs)
TABLES = (".csv", ".parquet")


@dataclass(frozen=True)
class ImageFile:
    """An image to judge: where it is, and `name`, what the results call it (the `file` column):
    the path as given on the command line, an upload's own file name in the app."""

    path: Path
    name: str


@dataclass(frozen=True)
class Judged:
    """One row per judged image, in the order given (every generate and judge column, `file`, and
    with a folder `image_path`); a sentence per file skipped; where the table was written."""

    frame: pd.DataFrame
    skipped: list[str] = field(default_factory=list)
    table: Path | None = None


@dataclass(frozen=True)
class Asked:
    """What every image is judged against, checked: the subject, the prompt given and the
    template given ('' when not given), and the templates known."""

    subject: str
    prompt: str
    template_id: str
    templates: TemplateSet

    @classmethod
    def check(cls, subject: str, prompt: str = "", template_id: str = "") -> Asked:
        """Each value held to the prompt limit, a subject required, a template known."""
        chars = get_settings().max_prompt_chars
        subject = limits.text(subject, "The subject", chars).strip()
        if not subject:
            raise PlaygroundError("The subject is empty; name the medical subject the images should show, such as "
                                  "'melanoma'.")
        templates, template_id = load_templates(), (template_id or "").strip()
        if template_id:
            templates[template_id]  # an unknown one is refused, naming the known ones
        return cls(subject, limits.text(prompt, "The prompt", chars).strip(), template_id, templates)


def collect(paths: Sequence[Path | str]) -> list[ImageFile]:
    """Every file named and each named folder's files (sorted; subfolders are not entered), each
    once. Which of them are images is told when they are read."""
    found: dict[Path, ImageFile] = {}
    for given in map(Path, paths):
        if not given.exists():
            raise PlaygroundError(f"There is no file or folder {str(given)!r}.")
        for path in sorted(p for p in given.iterdir() if p.is_file()) if given.is_dir() else [given]:
            found.setdefault(path.resolve(), ImageFile(path, str(path)))
    return list(found.values())


def read_image(path: Path, what: str = "This file") -> tuple[Image.Image, str]:
    """The image at `path` as the judges take it (see `_as_judged`; turned upright as its EXIF
    says) and its format. Refused with a sentence naming it as `what`: a file over
    PLAYGROUND_MAX_UPLOAD_MB, a header declaring more than the pixel limit (before any pixel is
    decoded), anything but a PNG, JPEG or WebP."""
    most, size = get_settings().max_upload_mb, path.stat().st_size
    if size > most * 2**20:
        raise PlaygroundError(f"{what} is {size / 2**20:.1f} MB; the limit is {most} MB (PLAYGROUND_MAX_UPLOAD_MB).")
    try:
        with Image.open(path, formats=FORMATS) as opened:
            limits.image_pixels(*opened.size, what)
            return _as_judged(ImageOps.exif_transpose(opened)), opened.format
    except PlaygroundError:
        raise
    except Image.DecompressionBombError:  # Pillow's own, larger limit, checked as it opens
        raise PlaygroundError(f"{what} has more than {limits.MAX_IMAGE_PIXELS:,} pixels, the limit (8192 x 8192); "
                              "it was not decoded.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise PlaygroundError(f"{what} is not a PNG, JPEG or WebP image that can be read.") from None


def _as_judged(image: Image.Image) -> Image.Image:
    """Grey stays grey ("L"; 16-bit and float grey stretched over its own range to 8 bits, as
    clipping would turn most x-rays white), anything else becomes RGB: each judge converts from
    there as its model expects (the CLIPs and the checklist judge to RGB, the x-ray classifier to grey)."""
    if image.mode in WIDE_GREY:
        pixels = np.asarray(image, dtype=np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        return Image.fromarray(np.uint8(np.round((pixels - low) / ((high - low) or 1.0) * 255)), "L")
    return image.convert("L" if image.mode in GREY else "RGB")


def _from_png(path: Path, templates: TemplateSet) -> dict[str, str]:
    """What a PNG's ``parameters`` text says of its image (prompt, negative prompt, and its
    template when known here), each within the prompt limit; {} where it has none or says too
    much (the image is judged all the same, against what comes next)."""
    chars = get_settings().max_prompt_chars
    try:
        found = parse_parameters(read_parameters(path))
        prompt, negative = (limits.text(found[name], f"The PNG's {name}", chars).strip()
                            for name in ("prompt", "negative_prompt"))
    except PlaygroundError:
        return {}
    template = found.get("Template", "")
    return {"prompt": prompt, "negative_prompt": negative} | ({"template_id": template}
                                                              if template in templates.templates else {})


def _row(asked: Asked, png: dict[str, str], image: Image.Image, column: int) -> dict:
    """An image's generate columns: what it is judged against, where it sits (one grid row, a
    column each) and its size; what only drawing knows (model, setting, seed) stays blank."""
    template_id = asked.template_id or png.get("template_id", FREE)
    filled = asked.templates[asked.template_id].fill(asked.subject) if asked.template_id else ""
    blank = {c.name: c.blank for c in map(schema.COLUMNS.get, schema.of_step("generate"))}
    return blank | {
        "subject": asked.subject, "column": column, "row": 0, "template_id": template_id,
        "modality": asked.templates[template_id].modality if template_id != FREE else "",
        "prompt": asked.prompt or png.get("prompt") or filled or asked.subject,
        "negative_prompt": png.get("negative_prompt", ""), "width": image.width, "height": image.height,
        "from_cache": False, "image_problem": "",
    }


def judge_files(
    files: Sequence[ImageFile], subject: str, judges: Judges | str, prompt: str = "", template_id: str = "",
    context: Context | None = None, folder: Path | None = None, out: Path | None = None, batch_size: int = BATCH,
    progress: ProgressFn | None = None,
) -> Judged:
    """Judge every image of `files` with every judge of `judges` (as Compare judges a grid),
    `batch_size` images at a time.

    Args:
        files: what to judge (`collect` makes them from paths); a file that is no image, or is
            over a limit, is skipped with a sentence in `skipped`.
        subject: the medical subject the images should show, e.g. "cardiomegaly".
        prompt, template_id: what the images are judged against (see the module docstring).
        folder: with it, each image is saved there as the PNG it was judged as (`image_path`,
            what the app serves; not written to `out`).
        out: the table, written as CSV or Parquet by its suffix (checked before judging).
        progress: called as progress(done, total, what) after each batch, counting files.

    Example:
        >>> judged = judge_files(collect(["scans/"]), "cardiomegaly", "tiny-offline-clip", template_id="xray-short")
        >>> judged.frame[["file", "prompt", "clip_prompt", "finding_score"]]
    """
    # 1. Check what was asked, and where the table goes
    asked, judges = Asked.check(subject, prompt, template_id), Judges.of(judges)
    batch_size = limits.whole_number(batch_size, "The batch size", 1, MAX_BATCH)
    if out is not None and out.suffix.lower() not in TABLES:
        raise PlaygroundError(f"The results file must end in .csv or .parquet, got {out.name!r}.")
    context = context or Context(load_curated())
    frames: list[pd.DataFrame] = []
    skipped: list[str] = []
    for start in range(0, len(files), batch_size):
        # 2. Read a batch, each image with what it is judged against
        rows, images, names = [], [], []
        for file in files[start : start + batch_size]:
            try:
                image, kind = read_image(file.path, repr(file.name))
            except PlaygroundError as exc:
                skipped.append(str(exc))
                continue
            png = _from_png(file.path, asked.templates) if kind == "PNG" else {}
            rows.append(_row(asked, png, image, sum(map(len, frames)) + len(rows)))
            images.append(image)
            names.append(file.name)
        # 3. Judge it, as Compare judges a grid, and let its images go
        if rows:
            frame = judging.run(judges, schema.new_frame(rows).assign(file=names), images, context)
            frames.append(_saved(frame, images, folder) if folder else frame)
        if progress is not None:
            done = min(start + batch_size, len(files))
            progress(done, len(files), f"{done} of {len(files)} files judged")
    if not frames:
        raise PlaygroundError("No image could be judged: " + (" ".join(skipped) or "no file was given."))
    frame = pd.concat(frames, ignore_index=True)
    table = write_table(frame.drop(columns=["image_path"], errors="ignore"), out) if out else None  # no server paths
    return Judged(frame, skipped, table)


def _saved(frame: pd.DataFrame, images: Sequence[Image.Image], folder: Path) -> pd.DataFrame:
    """`frame` with `image_path`: each image saved into `folder` as the PNG it was judged as."""
    paths = [folder / f"{column + 1:04d}.png" for column in frame["column"]]
    for path, image in zip(paths, images):
        with atomic(path) as tmp:
            image.save(tmp, format="PNG")
    return frame.assign(image_path=[str(p) for p in paths])


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """`frame` as CSV (structured cells as JSON, formulas neutralised) or Parquet, by `path`'s
    suffix, written atomically."""
    if path.suffix.lower() == ".csv":
        return write_csv(frame, path)
    with atomic(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path
