"""The shared prompt library: preferred images and their prompts, in one SQLite file.

After simonw/llm: an append-only list of migrations recorded in a table and applied on every
connect (library_schema.py); a unique content hash so the same prompt and settings logged twice is
one record with one vote more, a visitor's vote counting once per record (votes.py). Many processes
write at once, so the file runs in WAL mode with a busy timeout and every write is one short
``BEGIN IMMEDIATE`` transaction with parameterized SQL.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image

from .. import db as store
from .. import limits, schema
from ..config import get_settings
from ..csv_files import write_csv
from ..errors import PlaygroundError
from ..files import download_folder
from ..render.export import a1111_parameters, save_png
from . import votes
from .hub_sync import mirror_for, pull
from .library_schema import MIGRATIONS
from .records import checked, image_file_of, read_jsonl
from .votes import Voter

SCORE = schema.PRIMARY_SCORE  # the one score a listing shows and "score" sorts by (a record's others differ in scale)
SORTS = {"votes": "votes DESC, created DESC", "score": f"{SCORE} IS NULL, {SCORE} DESC, votes DESC",
         "date": "created DESC, id DESC", "oldest": "id"}
EXPORT_FORMATS = ("csv", "jsonl", "parquet")
PAGE_SIZES = (20, 50, 100)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Logged:
    """What a vote did (`Library.log`, `Library.upvote`): the record's id, whether it is new, its
    votes now, and whether this vote counted (a visitor counts once per record, see votes.py)."""

    id: int
    created: bool
    votes: int
    counted: bool = True


@dataclass(frozen=True)
class Page:
    """One page of a listing: its records, which page it is, of how many, and how many records match."""

    frame: pd.DataFrame
    number: int
    pages: int
    total: int

    @property
    def where(self) -> str:
        return f"Page {self.number} of {self.pages} · {self.total} record{'s' if self.total != 1 else ''}"


class Library:
    """A prompt library stored at `path`, its images in `images_dir` (a folder the app serves)."""

    def __init__(
        self, path: Path | None = None, images_dir: Path | None = None, on_change: Callable[[dict], None] | None = None
    ) -> None:
        settings = get_settings()
        self.path = Path(path or settings.library_path)
        self.images_dir = Path(images_dir or settings.library_images_dir)
        self.on_change = on_change  # called with the record's JSON after each committed write

    def connect(self) -> sqlite3.Connection:
        return store.connect(self.path, MIGRATIONS)

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return store.opened(self.path, MIGRATIONS)

    def _write(self, what: str) -> AbstractContextManager[sqlite3.Connection]:
        return store.writing(self.path, MIGRATIONS, what)

    def log(self, record: Mapping, image: Image.Image | None = None, scores: Mapping[str, float] | None = None,
            tags: list[str] | None = None, voter: Voter | None = None) -> Logged:
        """Add a record, or one vote to the existing record with the same prompt and settings.

        Args:
            record: a result row (columns: playground.schema) plus optional ``author`` and ``note``.
            image: saved as PNG with its parameters, named by the content hash; removed again
                if the record cannot be written, so a failed write leaves no orphan file.
            scores: e.g. ``{"clip_prompt": 27.1}``; stored as JSON.
            voter: the visitor, in the app; their vote for a known record counts once (votes.py).
                None (a notebook, the command line) always counts.
        """
        values = checked(record, "The record", scores=scores, tags=tags)
        written = None
        if image is not None:
            values["image_file"] = image_file_of(values["content_hash"])
            target = self.images_dir / values["image_file"]
            if not target.exists():
                try:
                    written = save_png(image, target, a1111_parameters(record))
                except OSError as exc:
                    raise PlaygroundError(f"The record was not saved: its image could not be written ({exc}).") from exc
        try:
            with self._write("The record") as db:
                new = db.execute(_insert_sql(values, "DO NOTHING") + " RETURNING id", values).fetchone()
                if new is None:
                    known = db.execute("SELECT id FROM records WHERE content_hash = ?", (values["content_hash"],))
                    logged = _vote(db, known.fetchone()["id"], voter)
                else:  # the first vote is the one who saved it
                    counted = votes.cast(db, new["id"], voter)
                    logged = Logged(new["id"], created=True, votes=values["votes"], counted=counted)
        except PlaygroundError:
            if written:
                written.unlink(missing_ok=True)
            raise
        if logged.counted:
            self._changed(logged.id)
        return logged

    def upvote(self, record_id: int, voter: Voter | None = None) -> Logged:
        """One vote more for a record, if `voter` has not voted for it within the window (votes.py)."""
        record_id = _record_number(record_id)
        with self._write("The vote") as db:
            if db.execute("SELECT 1 FROM records WHERE id = ?", (record_id,)).fetchone() is None:
                raise PlaygroundError(f"There is no library record #{record_id}.")
            logged = _vote(db, record_id, voter)
        if logged.counted:
            self._changed(record_id)
        return logged

    def get(self, record_id: int) -> dict:
        """One record as JSON-ready values (scores and tags decoded)."""
        record_id = _record_number(record_id)
        with self._db() as db:
            row = db.execute("SELECT * FROM records WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise PlaygroundError(f"There is no library record #{record_id}.")
        return _decoded(dict(row))

    def _changed(self, record_id: int) -> None:
        if self.on_change:
            self.on_change(self.get(record_id))

    def to_frame(
        self, text: str = "", modality: str = "", template_id: str = "", model_id: str = "", tag: str = "",
        sort: str = "votes", limit: int | None = None, offset: int = 0,
    ) -> pd.DataFrame:
        """Records matching every filter given, as a DataFrame (`scores`, `tags` decoded).

        Args:
            text: case-insensitive substring of the prompt, subject, note or tags.
            modality, template_id, model_id: exact matches; tag: one of the record's tags.
            sort: "votes", "score" (best primary score first: the CLIP score, `clip_prompt`, which
                the listing shows; records without one last), "date" (newest first) or "oldest".
            limit, offset: one page of the matches (see `count` for how many there are).
        """
        if sort not in SORTS:
            raise PlaygroundError(f"Unknown sort {sort!r}; choose one of: {', '.join(SORTS)}.")
        where, params = _filters(text, modality, template_id, model_id, tag)
        query = f"SELECT *, json_extract(scores, '$.{SCORE}') AS {SCORE} FROM records{where} ORDER BY {SORTS[sort]}"
        if limit is not None:
            query += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        with self._db() as db:
            frame = pd.read_sql_query(query, db, params=params)
        frame["scores"] = frame["scores"].map(json.loads)
        frame["tags"] = frame["tags"].map(json.loads)
        frame[SCORE] = pd.to_numeric(frame[SCORE], errors="coerce").astype(float)  # NaN where a record has none
        return frame

    def count(self, text: str = "", modality: str = "", template_id: str = "", model_id: str = "", tag: str = "") -> int:
        """How many records match the filters (see `to_frame`)."""
        where, params = _filters(text, modality, template_id, model_id, tag)
        with self._db() as db:
            return db.execute(f"SELECT COUNT(*) FROM records{where}", params).fetchone()[0]

    def page(self, number: object, size: object, sort: str = "votes", **filters: str) -> Page:
        """Page `number` (1-based) of `size` records matching `filters`; a page past the end shows
        the last one."""
        size = limits.whole_number(size, "The page size", 1, max(PAGE_SIZES))
        total = self.count(**filters)
        pages = max(1, math.ceil(total / size))
        number = min(limits.whole_number(number, "The page number", 1, limits.SQLITE_MAX_INT), pages)
        return Page(self.to_frame(sort=sort, limit=size, offset=(number - 1) * size, **filters), number, pages, total)

    def export(self, path: Path, fmt: str | None = None) -> Path:
        """Write every record to `path` as CSV (formula cells escaped), JSONL or Parquet."""
        fmt = _export_format(fmt or Path(path).suffix.lstrip("."))
        frame = self.to_frame(sort="oldest").drop(columns=[SCORE])
        if fmt == "jsonl":
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in frame.to_dict("records"))
        elif fmt == "csv":
            flat = frame.assign(scores=frame["scores"].map(json.dumps), tags=frame["tags"].map(json.dumps))
            write_csv(flat, Path(path))
        else:
            frame.assign(scores=frame["scores"].map(json.dumps), tags=frame["tags"].map(json.dumps)).to_parquet(path)
        return Path(path)

    def export_for_download(self, fmt: str) -> Path:
        """Every record exported to a fresh folder inside the served outputs folder."""
        fmt = _export_format(fmt)
        return self.export(download_folder("library-export") / f"prompt-library.{fmt}", fmt)

    def image_paths(self, frame: pd.DataFrame) -> list[Path | None]:
        """Each record's image file, or None where it has none (or it is gone)."""
        return [self.images_dir / name if name and (self.images_dir / name).is_file() else None
                for name in frame["image_file"]]

    def import_jsonl(self, path: Path, keep_votes: bool = False) -> tuple[int, int]:
        """Merge a JSONL export: new records are added, known ones are left as they are.

        A file's vote counts are not read (anyone can write `"votes": 1000000000`): its new records
        get one vote each. With `keep_votes` (the operator's Hub pull, whose files the app wrote),
        counts are read and a known record keeps the higher one. Returns (added, merged). Any line
        that is not a valid record stops the import, naming the line, before anything is written.
        """
        rows = read_jsonl(Path(path), keep_votes)
        merge = "DO UPDATE SET votes = MAX(votes, excluded.votes)" if keep_votes else "DO NOTHING"
        added = 0
        with self._write("The import") as db:
            for values in rows:
                known = db.execute("SELECT 1 FROM records WHERE content_hash = ?", (values["content_hash"],)).fetchone()
                db.execute(_insert_sql(values, merge), values)
                added += known is None
        return added, len(rows) - added


def _vote(db: sqlite3.Connection, record_id: int, voter: Voter | None) -> Logged:
    """One vote more for a known record, inside a write transaction, if it counts (votes.cast)."""
    counted = votes.cast(db, record_id, voter)
    row = db.execute("UPDATE records SET votes = votes + ? WHERE id = ? RETURNING votes",
                     (int(counted), record_id)).fetchone()
    return Logged(record_id, created=False, votes=row["votes"], counted=counted)


def _export_format(fmt: str) -> str:
    if fmt not in EXPORT_FORMATS:
        raise PlaygroundError(f"Unknown export format {fmt!r}; choose one of: {', '.join(EXPORT_FORMATS)}.")
    return fmt


def _record_number(value: object) -> int:
    return limits.whole_number(value, "The record number", 1, limits.SQLITE_MAX_INT)


def _filters(text: str, modality: str, template_id: str, model_id: str, tag: str) -> tuple[str, list]:
    """The WHERE clause (with its parameters) for the Library's filters; each is length-checked."""
    limit = get_settings().max_prompt_chars
    text = limits.text(text, "The search text", min(limit, 5000)).strip()  # SQLite caps LIKE patterns at 50 kB
    where, params = [], []
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in ("prompt", "subject", "note", "tags")) + ")")
        params += [like] * 4
    for column, value in (("modality", modality), ("template_id", template_id), ("model_id", model_id), ("tag", tag)):
        value = limits.text(value, f"The {column.replace('_', ' ')} filter", limit)
        if value and column == "tag":
            where.append("EXISTS (SELECT 1 FROM json_each(records.tags) WHERE json_each.value = ?)")
        elif value:
            where.append(f"{column} = ?")
        params += [value] if value else []
    return (" WHERE " + " AND ".join(where) if where else ""), params


def _insert_sql(values: Mapping, on_conflict: str) -> str:
    columns = ", ".join(values)
    placeholders = ", ".join(f":{name}" for name in values)
    return f"INSERT INTO records ({columns}) VALUES ({placeholders}) ON CONFLICT(content_hash) {on_conflict}"


def open_library() -> Library:
    """The configured library; with LIBRARY_HUB_REPO set, every write is also queued for the Hub."""
    settings = get_settings()
    mirror = mirror_for(settings.library_hub_repo, settings.library_hub_dir) if settings.library_hub_repo else None
    return Library(on_change=mirror.append if mirror else None)


def pull_from_hub() -> tuple[int, int]:
    """Seed the local library from LIBRARY_HUB_REPO; (added, merged)."""
    repo = get_settings().library_hub_repo
    if not repo:
        raise PlaygroundError("LIBRARY_HUB_REPO is not set; there is no dataset repo to pull from.")
    if get_settings().offline and not get_settings().hub_offline:  # HF_HUB_OFFLINE=1 reads the local cache only
        raise PlaygroundError(f"PLAYGROUND_OFFLINE=1 keeps the playground off the Hub, so {repo} is not pulled; "
                              "unset it to pull (or set HF_HUB_OFFLINE=1 to pull from the local Hugging Face cache).")
    library = Library()
    return pull(repo, lambda path: library.import_jsonl(path, keep_votes=True))


def _decoded(record: dict) -> dict:
    record["scores"] = json.loads(record["scores"])
    record["tags"] = json.loads(record["tags"])
    return record


def prefer(row: Mapping, note: str = "", voter: Voter | None = None) -> Logged:
    """Log one image of a saved comparison (a frame row with `image_path`) to the configured
    library, with its scores: what the Compare tab's Prefer button does. In the app, `voter` is the
    visitor, so preferring an image again counts once (`Logged.counted`)."""
    if row.get("image_problem"):
        raise PlaygroundError(f"This image is not a real image ({row['image_problem']}); it cannot be preferred.")
    with Image.open(row["image_path"]) as image:
        image.load()
    scores = {name: float(row[name]) for name in schema.scores(row) if pd.notna(row[name])}
    return open_library().log({**row, "note": note}, image, scores=scores, voter=voter)


def seed_library_in_background() -> threading.Thread | None:
    """With LIBRARY_HUB_REPO set, merge the dataset's records into the local library without
    delaying start; a failure is logged and the app serves the local library as it is."""
    if not get_settings().library_hub_repo:
        return None

    def pull() -> None:
        try:
            added, merged = pull_from_hub()
            logger.info("Library seeded from the Hub: %d new records, %d merged.", added, merged)
        except Exception as exc:  # offline, private repo, bad file: the local library still works
            logger.warning("Could not seed the library from the Hub: %s", exc)

    thread = threading.Thread(target=pull, name="library-pull", daemon=True)
    thread.start()
    return thread
