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
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from PIL import Image

from .config import get_settings
from .export import a1111_parameters, save_png, write_csv
from .hub_sync import mirror_for, pull

# Fields that make two records "the same": prompt and every setting that changes the image.
IDENTITY_FIELDS = (
    "prompt", "negative_prompt", "model_id", "scheduler", "steps", "guidance_scale", "seed", "width", "height",
)
RECORD_FIELDS = ("author", "subject", "template_id", "modality", *IDENTITY_FIELDS, "clip_guidance_scale", "note")
OPTIONAL_FIELDS = ("author", "note", "modality", "clip_guidance_scale")
SORTS = {"votes": "votes DESC, created DESC", "score": "score DESC, votes DESC", "date": "created DESC, id DESC", "oldest": "id"}
EXPORT_FORMATS = ("csv", "jsonl", "parquet")

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
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


def migrate(db: sqlite3.Connection, migrations: list[Callable[[sqlite3.Connection], None]] = MIGRATIONS) -> None:
    """Apply every migration not yet recorded, each in its own transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    applied = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for fn in (fn for fn in migrations if fn.__name__ not in applied):  # the usual case: none, no lock taken
        with immediate(db):
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (fn.__name__,)).fetchone():
                continue
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (fn.__name__, now_utc()))


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One short write transaction that takes the write lock up front (no upgrade deadlocks)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        timeout = get_settings().library_timeout_s
        db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        migrate(db)
        return db

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = self.connect()
        try:
            yield db
        finally:
            db.close()

    def log(self, record: Mapping, image: Image.Image | None = None, scores: Mapping[str, float] | None = None,
            tags: list[str] | None = None) -> Logged:
        """Add a record, or one vote to the existing record with the same prompt and settings.

        Args:
            record: a result row (generate.FRAME_COLUMNS) plus optional ``author`` and ``note``.
            image: saved as PNG with its parameters, named by the content hash.
            scores: e.g. ``{"clip_prompt": 27.1}``; stored as JSON.
        """
        values = row_values(record, "new record", scores=scores, tags=tags)
        if image is not None:
            values["image_file"] = f"{values['content_hash'][:24]}.png"
            target = self.images_dir / values["image_file"]
            if not target.exists():
                save_png(image, target, a1111_parameters(record))
        with self._db() as db, immediate(db):
            row = db.execute(_insert_sql(values, "votes = votes + 1") + " RETURNING id, votes", values).fetchone()
        self._changed(row["id"])
        return Logged(id=row["id"], created=row["votes"] == 1, votes=row["votes"])

    def upvote(self, record_id: int) -> int:
        """One vote more for a record; returns its votes now."""
        with self._db() as db, immediate(db):
            row = db.execute("UPDATE records SET votes = votes + 1 WHERE id = ? RETURNING votes", (record_id,)).fetchone()
        if row is None:
            raise ValueError(f"There is no library record #{record_id}.")
        self._changed(record_id)
        return row["votes"]

    def get(self, record_id: int) -> dict:
        """One record as JSON-ready values (scores and tags decoded)."""
        with self._db() as db:
            row = db.execute("SELECT * FROM records WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise ValueError(f"There is no library record #{record_id}.")
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
            raise ValueError(f"Unknown sort {sort!r}; choose one of: {', '.join(SORTS)}.")
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
            raise ValueError(f"Unknown export format {fmt!r}; choose one of: {', '.join(EXPORT_FORMATS)}.")
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
        with self._db() as db, immediate(db):
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
        raise ValueError(f"{where}: a library record needs {', '.join(missing)}.")
    values = {name: record.get(name) or "" for name in RECORD_FIELDS}
    try:
        values["guidance_scale"] = float(record["guidance_scale"])
        values["clip_guidance_scale"] = float(record.get("clip_guidance_scale") or 0)
        for name in ("steps", "seed", "width", "height"):
            values[name] = int(record[name])
        score_values = {str(k): float(v) for k, v in dict(scores or {}).items()}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: a number field is not a number ({exc}).") from None
    image_file = str(extra.get("image_file") or "")
    values.update(
        created=str(extra.get("created") or now_utc()),
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
        raise ValueError(f"{where}: not valid JSON ({exc.msg}).") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, found {type(record).__name__}.")
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
        raise ValueError("LIBRARY_HUB_REPO is not set; there is no dataset repo to pull from.")
    return pull(repo, Library().import_jsonl)


def _decoded(record: dict) -> dict:
    record["scores"] = json.loads(record["scores"])
    record["tags"] = json.loads(record["tags"])
    return record


def main(argv: list[str] | None = None) -> int:
    """``python -m playground.library list|export|import|pull``: the library for scripts."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m playground.library", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="print records as a table")
    listing.add_argument("--text", default="", help="substring of prompt, subject, note or tags")
    listing.add_argument("--modality", default="")
    listing.add_argument("--template", default="")
    listing.add_argument("--model", default="")
    listing.add_argument("--tag", default="")
    listing.add_argument("--sort", default="votes", choices=list(SORTS))
    listing.add_argument("--limit", type=int, default=20)
    exporting = commands.add_parser("export", help="write every record to a file")
    exporting.add_argument("path", type=Path, help="output file; its suffix picks the format")
    exporting.add_argument("--format", choices=EXPORT_FORMATS, default=None)
    importing = commands.add_parser("import", help="merge a JSONL export")
    importing.add_argument("path", type=Path)
    commands.add_parser("pull", help="merge the records of LIBRARY_HUB_REPO")
    args = parser.parse_args(argv)

    try:
        if args.command == "list":
            frame = Library().to_frame(args.text, args.modality, args.template, args.model, args.tag, args.sort)
            columns = ["id", "votes", "score", "subject", "template_id", "model_id", "prompt"]
            print(frame[columns].head(args.limit).to_string(index=False) if len(frame) else "No records.")
        elif args.command == "export":
            print(f"Wrote {Library().export(args.path, args.format)}")
        elif args.command == "import":
            added, merged = Library().import_jsonl(args.path)
            print(f"Added {added} records, merged {merged} already known.")
        else:
            added, merged = pull_from_hub()
            print(f"Added {added} records from the Hub, merged {merged} already known.")
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
