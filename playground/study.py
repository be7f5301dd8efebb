"""Blinded expert rating of a sweep: each rater sees one prompt condition at a time, as 4 of its
images without its settings, and rates style and content on the study's 0-4 scale.

The order of conditions, and which images are shown, are random per rater and reproducible from
the session's seed. Ratings live in `ratings.sqlite` in the run folder (one row per rater and
condition; rating again replaces), so a rater can stop and resume.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .config import get_settings
from .library import immediate, migrate, now_utc

SCALE = {0: "completely wrong", 1: "hints of correct", 2: "clear signs of correct", 3: "mainly correct",
         4: "perfectly correct"}
IMAGES_SHOWN = 4


def m001_ratings(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE ratings (
            rater TEXT NOT NULL,
            item TEXT NOT NULL,           -- hash of prompt + setting: the rated condition
            style INTEGER NOT NULL CHECK (style BETWEEN 0 AND 4),
            content INTEGER NOT NULL CHECK (content BETWEEN 0 AND 4),
            best_image TEXT NOT NULL DEFAULT '',  -- file name of the image marked best, if any
            shown TEXT NOT NULL,          -- the image files shown, comma-separated
            created TEXT NOT NULL,
            PRIMARY KEY (rater, item)
        )
        """
    )


MIGRATIONS = [m001_ratings]


@dataclass(frozen=True)
class Item:
    """One condition to rate: its key, the images shown (paths), and where the rater is."""

    key: str
    images: tuple[Path, ...]
    number: int  # 1-based position in this rater's order
    total: int


def _key(prompt: str, setting: str) -> str:
    return hashlib.sha256(f"{prompt}\x1f{setting}".encode()).hexdigest()[:16]


def list_runs() -> list[str]:
    """Run folders under PLAYGROUND_HOME/outputs/runs that hold a finished sweep table."""
    root = get_settings().runs_dir
    return sorted(p.name for p in root.glob("*") if (p / "results.parquet").is_file()) if root.is_dir() else []


class RatingSession:
    """Ratings of the sweep in `run_dir` (a folder written by playground.sweep)."""

    def __init__(self, run_dir: Path, seed: int = 0) -> None:
        self.run_dir, self.seed = Path(run_dir), seed
        table = self.run_dir / "results.parquet"
        if not table.is_file():
            raise ValueError(f"{self.run_dir} holds no finished sweep (results.parquet is missing).")
        self.frame = pd.read_parquet(table)
        self.frame["item"] = [_key(p, s) for p, s in zip(self.frame["prompt"], self.frame["setting"])]

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.run_dir / "ratings.sqlite", timeout=get_settings().library_timeout_s,
                             isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        migrate(db, MIGRATIONS)
        return db

    def _check_rater(self, rater: str) -> str:
        rater = (rater or "").strip()
        if not rater or len(rater) > 100:
            raise ValueError("Type your rater name (1 to 100 characters) so your ratings can be resumed.")
        return rater

    def order(self, rater: str) -> list[str]:
        """This rater's order of items: a shuffle seeded by the session seed and the rater's name."""
        items = sorted(set(self.frame["item"]))
        random.Random(f"{self.seed}:{self._check_rater(rater)}").shuffle(items)
        return items

    def item(self, rater: str, key: str) -> Item:
        order = self.order(rater)
        files = sorted(self.frame.loc[self.frame["item"] == key, "image_file"])
        shown = random.Random(f"{self.seed}:{rater}:{key}").sample(files, min(IMAGES_SHOWN, len(files)))
        return Item(key, tuple(self.run_dir / "images" / f for f in shown), order.index(key) + 1, len(order))

    def next_item(self, rater: str) -> Item | None:
        """The first item in this rater's order not yet rated, or None when all are."""
        with closing(self._db()) as db:
            done = {row[0] for row in db.execute("SELECT item FROM ratings WHERE rater = ?", (rater.strip(),))}
        for key in self.order(rater):
            if key not in done:
                return self.item(rater, key)
        return None

    def rate(self, rater: str, key: str, style: int, content: int, best: int | None = None) -> None:
        """Store a rating; `best` is the 0-based index of the shown image marked best, if any."""
        rater = self._check_rater(rater)
        for name, value in (("style", style), ("content", content)):
            if value not in SCALE:
                raise ValueError(f"The {name} rating must be 0, 1, 2, 3 or 4, got {value}.")
        item = self.item(rater, key)
        if best is not None and not 0 <= best < len(item.images):
            raise ValueError(f"The best image must be 1 to {len(item.images)}, got {best + 1}.")
        with closing(self._db()) as db, immediate(db):
            db.execute(
                "INSERT INTO ratings VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(rater, item) DO UPDATE SET "
                "style = excluded.style, content = excluded.content, best_image = excluded.best_image, "
                "shown = excluded.shown, created = excluded.created",
                (rater, key, style, content, item.images[best].name if best is not None else "",
                 ",".join(p.name for p in item.images), now_utc()),
            )

    def ratings(self) -> pd.DataFrame:
        """Every rating with its condition: subject, modality, prompt, setting, and the mean CLIP
        and criteria scores of the images the rater saw."""
        with closing(self._db()) as db:
            ratings = pd.read_sql_query("SELECT * FROM ratings ORDER BY created, rater", db)
        per_item = self.frame.groupby("item").agg(
            subject=("subject", "first"), modality=("modality", "first"), prompt=("prompt", "first"),
            setting=("setting", "first"))
        scores = self.frame.set_index("image_file")
        shown = ratings["shown"].str.split(",")
        for column in ("clip_prompt", "criteria_score"):
            if column in scores:
                ratings[column] = [float(scores.loc[files, column].mean()) for files in shown]
        return ratings.join(per_item, on="item")

    def long_ratings(self) -> pd.DataFrame:
        """Ratings in stats' long layout (subject = prompt condition, category = modality)."""
        table = self.ratings()
        return pd.concat([
            pd.DataFrame({"subject": table["prompt"] + " | " + table["setting"], "category": table["modality"],
                          "aspect": aspect, "rating": table[aspect]})
            for aspect in ("style", "content")
        ], ignore_index=True)
