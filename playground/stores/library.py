"""The shared prompt library: preferred images and their prompts, in one SQLite file.

After simonw/llm: an append-only list of migrations recorded in a table and applied on every
connect; a unique content hash so the same prompt and settings logged twice is one record with
one vote more. Many processes write at once, so the file runs in WAL mode with a busy timeout and
every write is one short ``BEGIN IMMEDIATE`` transaction with parameterized SQL.
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
from ..errors import PlaygroundError
from ..files import download_folder
from ..render.export import a1111_parameters, save_png, write_csv
from .hub_sync import mirror_for, pull
from .records import checked, image_file_of, parse_line

SCORE = schema.PRIMARY_SCORE  # the one score a listing shows and "score" sorts by (a record's others differ in scale)
SORTS = {"votes": "votes DESC, created DESC", "score": f"{SCORE} IS NULL, {SCORE} DESC, votes DESC",
         "date": "created DESC, id DESC", "oldest": "id"}
EXPORT_FORMATS = ("csv", "jsonl", "parquet")
PAGE_SIZES = (20, 50, 100)

MIGRATIONS: list[store.Migration] = []
logger = logging.getLogger(__name__)


def migration(fn: store.Migration) -> store.Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_records(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE records (
            id INTEGER PRIMARY KEY,
            created TEXT NOT NULL,            -- ISO 8601, UTC
            author TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL,
            template_id TEXT NOT NULL,
            prompt TEXT NOT NULL,
            negative_prompt TEXT NOT NULL DEFAULT '',
            model_id TEXT NOT NULL,
            scheduler TEXT NOT NULL,
            steps INTEGER NOT NULL,
            guidance_scale REAL NOT NULL,
            seed INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            scores TEXT NOT NULL DEFAULT '{}', -- JSON object: column name -> float
            note TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '[]',   -- JSON list of strings
            votes INTEGER NOT NULL DEFAULT 1,
            image_file TEXT NOT NULL DEFAULT '', -- file name inside the library images folder
            content_hash TEXT NOT NULL UNIQUE
        )
        """
    )
    db.execute("CREATE INDEX records_votes ON records(votes)")


@migration
def m002_modality(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE records ADD COLUMN modality TEXT NOT NULL DEFAULT ''")


@migration
def m003_clip_guidance(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE records ADD COLUMN clip_guidance_scale REAL NOT NULL DEFAULT 0")


@migration
def m004_setting_identity(db: sqlite3.Connection) -> None:
    """The guidance setting's key and its own negative prompt ('' for records made before)."""
    db.execute("ALTER TABLE records ADD COLUMN setting_key TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE records ADD COLUMN setting_negative_prompt TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX records_setting_key ON records(setting_key)")


@migration
def m005_finite_scores(db: sqlite3.Connection) -> None:
    """Imports once let NaN scores in, which SQLite's JSON functions reject: keep finite ones only."""
    for record_id, scores in db.execute("SELECT id, scores FROM records WHERE NOT json_valid(scores)").fetchall():
        try:
            parsed = json.loads(scores)
        except ValueError:
            parsed = {}
        finite = {k: v for k, v in parsed.items() if isinstance(v, (int, float)) and math.isfinite(v)} \
            if isinstance(parsed, dict) else {}
        db.execute("UPDATE records SET scores = ? WHERE id = ?", (json.dumps(finite), record_id))


@migration
def m006_lineage(db: sqlite3.Connection) -> None:
    """A refined image's lineage: its parent's content hash, the refine round and the strength."""
    db.execute("ALTER TABLE records ADD COLUMN parent TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE records ADD COLUMN refine_round INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE records ADD COLUMN strength REAL NOT NULL DEFAULT 0")


@migration
def m007_vlm_score(db: sqlite3.Connection) -> None:
    """The checklist judge's score was stored as judge_score; it is vlm_score now ("judge" means any judge)."""
    db.execute("UPDATE records SET scores = json_remove(json_set(scores, '$.vlm_score', json_extract(scores, "
               "'$.judge_score')), '$.judge_score') WHERE json_extract(scores, '$.judge_score') IS NOT NULL")


@dataclass(frozen=True)
class Logged:
    """What `Library.log` did: the record's id, whether it is new, and its votes now."""

    id: int
    created: bool
    votes: int


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
            tags: list[str] | None = None) -> Logged:
        """Add a record, or one vote to the existing record with the same prompt and settings.

        Args:
            record: a result row (columns: playground.schema) plus optional ``author`` and ``note``.
            image: saved as PNG with its parameters, named by the content hash; removed again
                if the record cannot be written, so a failed write leaves no orphan file.
            scores: e.g. ``{"clip_prompt": 27.1}``; stored as JSON.
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
                row = db.execute(_insert_sql(values, "votes = votes + 1") + " RETURNING id, votes", values).fetchone()
        except PlaygroundError:
            if written:
                written.unlink(missing_ok=True)
            raise
        self._changed(row["id"])
        return Logged(id=row["id"], created=row["votes"] == 1, votes=row["votes"])

    def upvote(self, record_id: int) -> int:
        """One vote more for a record; returns its votes now."""
        record_id = _record_number(record_id)
        with self._write("The vote") as db:
            row = db.execute("UPDATE records SET votes = votes + 1 WHERE id = ? RETURNING votes", (record_id,)).fetchone()
        if row is None:
            raise PlaygroundError(f"There is no library record #{record_id}.")
        self._changed(record_id)
        return row["votes"]

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
                for record in frame.to_dict("records"):
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
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

    def import_jsonl(self, path: Path) -> tuple[int, int]:
        """Merge a JSONL export: new records are added, known ones keep the higher vote count.

        Returns (added, merged). Any line that is not a valid record stops the import, naming the
        line, before anything is written.
        """
        rows = _read_jsonl(Path(path))
        added = 0
        with self._write("The import") as db:
            for values in rows:
                known = db.execute("SELECT 1 FROM records WHERE content_hash = ?", (values["content_hash"],)).fetchone()
                db.execute(_insert_sql(values, "votes = MAX(votes, excluded.votes)"), values)
                added += known is None
        return added, len(rows) - added


def _read_jsonl(path: Path) -> list[dict]:
    """Every record line of a JSONL export, checked; a file of another kind is refused in a sentence."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise PlaygroundError(f"{path.name} is not a JSON Lines export (text, one record per line): export "
                              "the library as .jsonl to import it elsewhere.") from None
    return [parse_line(line, f"{path.name} line {number}") for number, line in enumerate(lines, start=1)
            if line.strip()]


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
    return f"INSERT INTO records ({columns}) VALUES ({placeholders}) ON CONFLICT(content_hash) DO UPDATE SET {on_conflict}"


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
    return pull(repo, Library().import_jsonl)


def _decoded(record: dict) -> dict:
    record["scores"] = json.loads(record["scores"])
    record["tags"] = json.loads(record["tags"])
    return record


def prefer(row: Mapping, note: str = "") -> Logged:
    """Log one image of a saved comparison (a frame row with `image_path`) to the configured
    library, with its scores: what the Compare tab's Prefer button does."""
    if row.get("image_problem"):
        raise PlaygroundError(f"This image is not a real image ({row['image_problem']}); it cannot be preferred.")
    with Image.open(row["image_path"]) as image:
        image.load()
    scores = {name: float(row[name]) for name in schema.scores(row) if pd.notna(row[name])}
    return open_library().log({**row, "note": note}, image, scores=scores)


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
