"""The shared prompt library: preferred images and their prompts, in one SQLite file.

After simonw/llm: an append-only list of migrations recorded in a table and applied on every
connect; a unique content hash so the same prompt and settings logged twice is one record with
one vote more. Many processes write at once, so the file runs in WAL mode with a busy timeout and
every write is one short ``BEGIN IMMEDIATE`` transaction with parameterized SQL.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image

from .. import schema
from ..config import get_settings
from ..errors import PlaygroundError
from ..export import a1111_parameters, save_png, write_csv
from . import db as store
from .hub_sync import mirror_for, pull

# Fields that make two records "the same": prompt and every setting that changes the image.
IDENTITY_FIELDS = (
    "prompt", "negative_prompt", "model_id", "scheduler", "steps", "guidance_scale", "seed", "width", "height",
)
RECORD_FIELDS = ("author", "subject", "template_id", "modality", *IDENTITY_FIELDS, "clip_guidance_scale", "note",
                 "setting_key", "setting_negative_prompt")
OPTIONAL_FIELDS = ("author", "note", "modality", "clip_guidance_scale", "setting_key", "setting_negative_prompt")
SORTS = {"votes": "votes DESC, created DESC", "score": "score DESC, votes DESC", "date": "created DESC, id DESC", "oldest": "id"}
EXPORT_FORMATS = ("csv", "jsonl", "parquet")

MIGRATIONS: list[store.Migration] = []


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


def content_hash(record: Mapping) -> str:
    """SHA-256 of the prompt and settings; CLIP guidance joins only when on, so hashes of records
    made before it existed stay valid."""
    identity = {name: record[name] for name in IDENTITY_FIELDS}
    identity["guidance_scale"] = float(identity["guidance_scale"])
    if float(record.get("clip_guidance_scale") or 0):
        identity["clip_guidance_scale"] = float(record["clip_guidance_scale"])
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Logged:
    """What `Library.log` did: the record's id, whether it is new, and its votes now."""

    id: int
    created: bool
    votes: int


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
        values = row_values(record, "new record", scores=scores, tags=tags)
        written = None
        if image is not None:
            values["image_file"] = f"{values['content_hash'][:24]}.png"
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
        with self._write("The vote") as db:
            row = db.execute("UPDATE records SET votes = votes + 1 WHERE id = ? RETURNING votes", (record_id,)).fetchone()
        if row is None:
            raise PlaygroundError(f"There is no library record #{record_id}.")
        self._changed(record_id)
        return row["votes"]

    def get(self, record_id: int) -> dict:
        """One record as JSON-ready values (scores and tags decoded)."""
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
        sort: str = "votes",
    ) -> pd.DataFrame:
        """Records matching every filter given, as a DataFrame (`scores`, `tags` decoded).

        Args:
            text: case-insensitive substring of the prompt, subject, note or tags.
            modality, template_id, model_id: exact matches; tag: one of the record's tags.
            sort: "votes", "score" (best CLIP score first), "date" (newest first) or "oldest".
        """
        if sort not in SORTS:
            raise PlaygroundError(f"Unknown sort {sort!r}; choose one of: {', '.join(SORTS)}.")
        where, params = [], []
        if text.strip():
            like = "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in ("prompt", "subject", "note", "tags")) + ")")
            params += [like] * 4
        for column, value in (("modality", modality), ("template_id", template_id), ("model_id", model_id)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if tag:
            where.append("EXISTS (SELECT 1 FROM json_each(records.tags) WHERE json_each.value = ?)")
            params.append(tag)
        query = (
            "SELECT *, COALESCE((SELECT MAX(value) FROM json_each(records.scores)), 0) AS score FROM records"
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY {SORTS[sort]}"
        )
        with self._db() as db:
            frame = pd.read_sql_query(query, db, params=params)
        frame["scores"] = frame["scores"].map(json.loads)
        frame["tags"] = frame["tags"].map(json.loads)
        return frame

    def export(self, path: Path, fmt: str | None = None) -> Path:
        """Write every record to `path` as CSV (formula cells escaped), JSONL or Parquet."""
        fmt = fmt or Path(path).suffix.lstrip(".")
        if fmt not in EXPORT_FORMATS:
            raise PlaygroundError(f"Unknown export format {fmt!r}; choose one of: {', '.join(EXPORT_FORMATS)}.")
        frame = self.to_frame(sort="oldest").drop(columns=["score"])
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
        if fmt not in EXPORT_FORMATS:
            raise PlaygroundError(f"Unknown export format {fmt!r}; choose one of: {', '.join(EXPORT_FORMATS)}.")
        outputs = get_settings().outputs_dir
        outputs.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="library-export-", dir=outputs))
        return self.export(folder / f"prompt-library.{fmt}", fmt)

    def image_paths(self, frame: pd.DataFrame) -> list[Path | None]:
        """Each record's image file, or None where it has none (or it is gone)."""
        return [self.images_dir / name if name and (self.images_dir / name).is_file() else None
                for name in frame["image_file"]]

    def import_jsonl(self, path: Path) -> tuple[int, int]:
        """Merge a JSONL export: new records are added, known ones keep the higher vote count.

        Returns (added, merged). Any line that is not a valid record stops the import, naming the
        line, before anything is written.
        """
        rows = []
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    rows.append(_parse_line(line, f"{Path(path).name} line {number}"))
        added = 0
        with self._write("The import") as db:
            for values in rows:
                known = db.execute("SELECT 1 FROM records WHERE content_hash = ?", (values["content_hash"],)).fetchone()
                db.execute(_insert_sql(values, "votes = MAX(votes, excluded.votes)"), values)
                added += known is None
        return added, len(rows) - added


IMAGE_FILE_RE = re.compile(r"^[0-9a-f]{24}\.png$")


def row_values(
    record: Mapping, where: str, scores: Mapping | None = None, tags: list | None = None, **extra
) -> dict:
    """The `records` columns for one record, checked; `where` names it in errors.

    An image file name is kept only if it is one this library writes (hash.png), so no record
    can point outside the images folder.
    """
    missing = [name for name in RECORD_FIELDS if name not in record and name not in OPTIONAL_FIELDS]
    if missing:
        raise PlaygroundError(f"{where}: a library record needs {', '.join(missing)}.")
    values = {name: record.get(name) or "" for name in RECORD_FIELDS}
    try:
        values["guidance_scale"] = float(record["guidance_scale"])
        values["clip_guidance_scale"] = float(record.get("clip_guidance_scale") or 0)
        for name in ("steps", "seed", "width", "height"):
            values[name] = int(record[name])
        score_values = {str(k): float(v) for k, v in dict(scores or {}).items()}
    except (TypeError, ValueError) as exc:
        raise PlaygroundError(f"{where}: a number field is not a number ({exc}).") from None
    image_file = str(extra.get("image_file") or "")
    values.update(
        created=str(extra.get("created") or store.now_utc()),
        scores=json.dumps(score_values),
        tags=json.dumps([str(t) for t in (tags or [])]),
        votes=max(1, int(extra.get("votes") or 1)),
        image_file=image_file if IMAGE_FILE_RE.match(image_file) else "",
        content_hash=content_hash(values),
    )
    return values


def _parse_line(line: str, where: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PlaygroundError(f"{where}: not valid JSON ({exc.msg}).") from None
    if not isinstance(record, dict):
        raise PlaygroundError(f"{where}: expected a JSON object, found {type(record).__name__}.")
    return row_values(
        record, where, scores=record.get("scores"), tags=record.get("tags"),
        created=record.get("created"), votes=record.get("votes"), image_file=record.get("image_file"),
    )


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
    limit = get_settings().max_prompt_chars
    if len(note) > limit:
        raise PlaygroundError(f"The note has {len(note):,} characters; the limit is {limit:,}.")
    with Image.open(row["image_path"]) as image:
        image.load()
    scores = {name: float(row[name]) for name in schema.scores(row) if pd.notna(row[name])}
    return open_library().log({**row, "note": note}, image, scores=scores)
