"""The library's schema: an append-only list of named migrations (after simonw/llm's migrations.py).

Each runs once per database, in order, and its name is recorded in `_migrations` (playground.db);
a migration is never edited or removed once released, only followed by a new one.
"""

from __future__ import annotations

import json
import math
import sqlite3

from .. import db as store

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


@migration
def m008_record_votes(db: sqlite3.Connection) -> None:
    """Who voted for which record, and when: one visitor counts once per record (stores/votes.py).
    A voter is a keyed hash of a session or a client address, never the address itself."""
    db.execute(
        """
        CREATE TABLE record_votes (
            record_id INTEGER NOT NULL REFERENCES records(id),
            voter TEXT NOT NULL,               -- HMAC of 'session:...' or 'address:...'
            created TEXT NOT NULL,             -- ISO 8601, UTC; rows older than the window are deleted
            PRIMARY KEY (record_id, voter)
        )
        """
    )
    db.execute("CREATE INDEX record_votes_created ON record_votes(created)")
