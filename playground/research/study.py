"""Blinded expert rating of a sweep: each rater sees one prompt condition at a time, as 4 of its
images without its settings, and rates style and content on the study's 0-4 scale. The images
are blinded copies (research/blind.py); the run folder itself, with its tables and the raters'
names, is never served.

The order of conditions, and which images are shown, are random per rater and reproducible from
the session's seed; a run may ask for the most informative conditions first instead
(research/informative_order.py), and each rating records its order. A condition is a prompt and
a guidance setting's key, so two settings that differ only in their negative prompt are two
conditions. Ratings live in `ratings.sqlite` in the run folder (one row per rater and condition;
rating again replaces), so a rater can stop and resume.

On the web a name is not an identity: the first session under a name gets a rater key (shown once;
the database keeps its hash), and resuming or rating under that name needs the key (`sign_in`,
`signed_in`; research/access.py). Python callers hold the run folder itself and pass names. A
rater's name never leaves the database: `ratings()` and every export name raters by a pseudonym.
"""

from __future__ import annotations

import functools
import hashlib
import random
import shutil
import sqlite3
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .. import db as store
from .. import limits, schema, stats
from ..catalog.curated import Criterion
from ..config import get_settings
from ..errors import PlaygroundError
from ..files import atomic, trim_soon
from ..types import GuidanceSetting
from . import access, checklist_ratings, informative_order, study_report
from .blind import blinded, pseudonyms

SCALE = {0: "completely wrong", 1: "hints of correct", 2: "clear signs of correct", 3: "mainly correct",
         4: "perfectly correct"}
IMAGES_SHOWN = 4


def m001_ratings(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE ratings (
            rater TEXT NOT NULL,
            item TEXT NOT NULL,           -- hash of prompt + setting key: the rated condition
            style INTEGER NOT NULL CHECK (style BETWEEN 0 AND 4),
            content INTEGER NOT NULL CHECK (content BETWEEN 0 AND 4),
            best_image TEXT NOT NULL DEFAULT '',  -- file name of the image marked best, if any
            shown TEXT NOT NULL,          -- the image files shown, comma-separated
            created TEXT NOT NULL,
            PRIMARY KEY (rater, item)
        )
        """
    )


def m003_rater_keys(db: sqlite3.Connection) -> None:
    """Raters sign in with a key handed out once; only its hash is kept. A name rated before keys
    existed (or through Python) has no row here, and no key opens it from the web."""
    db.execute(
        """
        CREATE TABLE raters (
            rater TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL,       -- SHA-256 of the rater key (research/access.py)
            created TEXT NOT NULL
        )
        """
    )


@dataclass(frozen=True)
class Rater:
    """A rater signed in: the name, the key that proves it, and whether the key was handed out just
    now (then the page shows it, once)."""

    name: str
    key: str
    new_key: bool


@dataclass(frozen=True)
class Item:
    """One condition to rate: its key, the images shown, and where the rater is.

    `images` are the blinded copies the rater sees; `files` the run's own file names (stored with
    the rating, never shown).
    """

    key: str
    images: tuple[Path, ...]
    files: tuple[str, ...]
    number: int  # 1-based position in this rater's order
    total: int


def _key(prompt: str, setting_key: str) -> str:
    return hashlib.sha256(f"{prompt}\x1f{setting_key}".encode()).hexdigest()[:16]


def setting_keys(frame: pd.DataFrame) -> list[str]:
    """Each row's setting key; sweeps written before settings had keys get them rebuilt from the
    row's own setting columns (the negative prompt as sent, the sampler as run)."""
    if "setting_key" in frame:
        return frame["setting_key"].tolist()
    return [GuidanceSetting(float(r.guidance_scale), int(r.steps), str(r.scheduler), str(r.negative_prompt),
                            float(r.clip_guidance_scale)).key for r in frame.itertuples()]


def check_result(frame: pd.DataFrame | None) -> None:
    """Refuse a Compare result that cannot become a run (none drawn yet, or drafts)."""
    if frame is None or frame.empty or "image_path" not in frame:
        raise PlaygroundError("Generate a comparison in Compare first; its images become the run to rate.")
    drafts = [i for i, decoder in enumerate(frame.get("decoder", []), start=1) if decoder == "fast"]
    if drafts:
        raise PlaygroundError(f"The grid holds {len(drafts)} drafts (fast decoder; image #{drafts[0]} first): experts "
                              "rate full images. Decode them in full, or generate with the full decoder.")


def run_from_result(frame: pd.DataFrame, name: str | None = None, owner_key: str | None = None) -> str:
    """A rating run made from a Compare result (its frame, with `image_path`): the images copied
    into a run folder under PLAYGROUND_HOME/runs with the table a sweep writes, so experts rate
    it blind like a sweep. With `owner_key` the run is private to whoever holds that key
    (research/access.py); without, it is listed for everyone, like a swept run. Returns its name."""
    check_result(frame)
    name = name or f"compare-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    folder = get_settings().runs_dir / name
    (folder / "images").mkdir(parents=True)
    if owner_key:
        access.claim(folder, owner_key)
    files = [shutil.copy2(path, folder / "images" / Path(path).name) for path in frame["image_path"]]
    table = frame.drop(columns=["image_path"]).assign(image_file=[Path(f).name for f in files], unit=0)
    with atomic(folder / "results.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    trim_soon(keep=[folder], extra=access.idle_visitor_runs())  # visitors' idle runs count toward the cap
    return name


class RatingSession:
    """Ratings of the sweep in `run_dir` (a folder written by playground.sweep)."""

    def __init__(self, run_dir: Path, seed: int = 0, order: str | None = None) -> None:
        """`order` (informative_order.ORDERS) overrides the run's own order (random unless chosen)."""
        self.run_dir, self.seed = Path(run_dir), seed
        self._order = None if order is None else informative_order.checked(order)
        table = self.run_dir / "results.parquet"
        if not table.is_file():
            raise PlaygroundError(f"{self.run_dir} holds no finished sweep (results.parquet is missing).")
        self.frame = pd.read_parquet(table)
        self.frame["setting_key"] = setting_keys(self.frame)
        self.frame["item"] = [_key(p, k) for p, k in zip(self.frame["prompt"], self.frame["setting_key"])]
        self.path = self.run_dir / "ratings.sqlite"

    def _migrations(self) -> list[store.Migration]:
        item_of_image = dict(zip(self.frame["image_file"], self.frame["item"]))

        def m002_items_keyed_by_setting(db: sqlite3.Connection) -> None:
            """Conditions were keyed by the setting's label, which merged settings differing only in
            their negative prompt; re-key each rating by the images its rater saw."""
            for rater, item, shown in db.execute("SELECT rater, item, shown FROM ratings").fetchall():
                new = item_of_image.get(shown.split(",")[0], item)
                db.execute("UPDATE OR REPLACE ratings SET item = ? WHERE rater = ? AND item = ?", (new, rater, item))

        return [m001_ratings, m002_items_keyed_by_setting, m003_rater_keys, informative_order.m004_rating_order,
                checklist_ratings.m005_checklist_answers]

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return store.opened(self.path, self._migrations())

    def _check_rater(self, rater: str) -> str:
        rater = limits.text(rater, "The rater name", 100).strip()
        if not rater:
            raise PlaygroundError("Type your rater name (1 to 100 characters) so your ratings can be resumed.")
        return rater

    @staticmethod
    def _stored_key(db: sqlite3.Connection, name: str) -> str | None:
        """The hash of `name`'s key; '' for a name rated without a key (no key opens it); None for
        a name never seen."""
        return db.execute("SELECT COALESCE((SELECT key_hash FROM raters WHERE rater = ?), "
                          "(SELECT '' FROM ratings WHERE rater = ? LIMIT 1))", (name, name)).fetchone()[0]

    def _known(self, name: str, key: str) -> bool:
        """True when `name` is taken and `key` is its key; False for a name never seen."""
        with self._db() as db:
            stored = self._stored_key(db, name)
        if stored is not None and not access.matches(key, stored):
            raise PlaygroundError(_taken(name))
        return stored is not None

    def sign_in(self, rater: str, key: str | None, register: bool = True) -> Rater:
        """The rater `rater` proven by `key`. A name seen for the first time is registered under
        `key`, or under a new key when none is sent (one browser keeps one key for every run); a
        known name needs its key. `register=False` only checks (the page checks before it changes
        anything)."""
        name, key = self._check_rater(rater), access.checked_key(key, "rater key")
        if self._known(name, key):
            return Rater(name, key, new_key=False)
        signed = Rater(name, key or access.new_key(), new_key=not key)
        if register:
            with store.writing(self.path, self._migrations(), "The rater's key") as db:
                db.execute("INSERT INTO raters VALUES (?, ?, ?) ON CONFLICT(rater) DO NOTHING",
                           (name, access.digest(signed.key), store.now_utc()))
                if not access.matches(signed.key, self._stored_key(db, name) or ""):  # another session won the name
                    raise PlaygroundError(_taken(name))
        return signed

    def signed_in(self, rater: str, key: str | None) -> str:
        """The name of a rater who started a session and sent its key (rating needs both)."""
        name = self._check_rater(rater)
        if not self._known(name, access.checked_key(key, "rater key")):
            raise PlaygroundError("Start (or resume) the session first: press Start / resume with your rater name.")
        return name

    @functools.cached_property
    def ordering(self) -> str:
        """The order raters are asked in: the session's, else the run's (`choose_order`)."""
        with self._db() as db:
            return self._order or informative_order.stored(db)

    def choose_order(self, order: str) -> None:
        """Ask this run's raters in `order` from now on (a sweep sets its study file's)."""
        with store.writing(self.path, self._migrations(), "The run's order") as db:
            informative_order.store(db, order)
        self.__dict__.pop("ordering", None)

    def ask_checklist(self, on: bool = True) -> None:
        """Ask this run's raters the checklist too (`on`) or not (research/checklist_ratings.py)."""
        with store.writing(self.path, self._migrations(), "The run's checklist setting") as db:
            checklist_ratings.ask(db, on)

    def questions(self, key: str) -> list[Criterion]:
        """The checklist questions a rater answers for condition `key` ([] when the run asks none)."""
        with self._db() as db:
            return checklist_ratings.questions(self.frame, key) if checklist_ratings.asked(db) else []

    def order(self, rater: str) -> list[str]:
        """This rater's order of items: a shuffle seeded by the session seed and the rater's name,
        then sorted most informative first where the session's `ordering` says so."""
        items = sorted(set(self.frame["item"]))
        random.Random(f"{self.seed}:{self._check_rater(rater)}").shuffle(items)
        return informative_order.ordered(self.frame, items, self.ordering)

    def item(self, rater: str, key: str) -> Item:
        order = self.order(rater)
        if key not in order:
            raise PlaygroundError(f"{key!r} is not a condition of this run; start (or resume) the session again.")
        files = sorted(self.frame.loc[self.frame["item"] == key, "image_file"])
        shown = random.Random(f"{self.seed}:{rater}:{key}").sample(files, min(IMAGES_SHOWN, len(files)))
        return Item(key, tuple(blinded(self.run_dir, f) for f in shown), tuple(shown), order.index(key) + 1, len(order))

    def next_item(self, rater: str) -> Item | None:
        """The first item in this rater's order not yet rated, or None when all are."""
        with self._db() as db:
            done = {row[0] for row in db.execute("SELECT item FROM ratings WHERE rater = ?", (rater.strip(),))}
        for key in self.order(rater):
            if key not in done:
                return self.item(rater, key)
        return None

    def check(self, rater: str, key: str, style: object, content: object, best: object = None,
              checklist: Mapping[str, object] | None = None) -> Item:
        """The item a rating is for, once the rating is checked (0-4 each; `best`, the 0-based index
        of an image shown, or None; `checklist`, criterion id -> yes, no or unsure, for each of
        `questions(key)`); raises the sentence that says what is wrong."""
        if style is None or content is None:
            raise PlaygroundError("Rate both style and content before going on.")
        for name, value in (("style", style), ("content", content)):
            if not limits.is_whole(value) or value not in SCALE:
                raise PlaygroundError(f"The {name} rating must be 0, 1, 2, 3 or 4, got {value!r}.")
        item = self.item(self._check_rater(rater), key)
        if best is not None and not (limits.is_whole(best) and 0 <= best < len(item.images)):
            raise PlaygroundError(f"The best image must be one of the {len(item.images)} shown (or none), got {best!r}.")
        checklist_ratings.checked(self.questions(key), checklist)
        return item

    def rate(self, rater: str, key: str, style: int, content: int, best: int | None = None,
             checklist: Mapping[str, str] | None = None) -> None:
        """Store a rating; `best` is the 0-based index of the shown image marked best, if any;
        `checklist` the answers to the condition's checklist questions, when the run asks them."""
        rater = self._check_rater(rater)
        item = self.check(rater, key, style, content, best, checklist)  # every question answered, nothing else
        answers = dict(checklist or {})
        style, content, best = int(style), int(content), None if best is None else int(best)
        with store.writing(self.path, self._migrations(), "The rating") as db:
            db.execute(
                "INSERT INTO ratings (rater, item, style, content, best_image, shown, created, ordering) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(rater, item) DO UPDATE SET "
                "style = excluded.style, content = excluded.content, best_image = excluded.best_image, "
                "shown = excluded.shown, created = excluded.created, ordering = excluded.ordering",
                (rater, key, style, content, item.files[best] if best is not None else "", ",".join(item.files),
                 store.now_utc(), self.ordering),
            )
            checklist_ratings.store_answers(db, rater, key, answers)

    def ratings(self) -> pd.DataFrame:
        """Every rating with its condition (subject, modality, prompt, setting and its key) and the
        mean of each score column over the images the rater saw. `rater` is the rater's pseudonym
        (research/blind.py), never the name."""
        with self._db() as db:
            ratings = pd.read_sql_query("SELECT * FROM ratings ORDER BY created, rater", db)
        ratings["rater"] = ratings["rater"].map(pseudonyms(self.run_dir, set(ratings["rater"])))
        per_item = self.frame.groupby("item").agg(
            subject=("subject", "first"), modality=("modality", "first"), prompt=("prompt", "first"),
            setting=("setting", "first"), setting_key=("setting_key", "first"))
        scores = self.frame.set_index("image_file")
        shown = ratings["shown"].str.split(",")
        for column in schema.scores(self.frame):
            ratings[column] = [float(scores.loc[files, column].mean()) for files in shown]
        return ratings.join(per_item, on="item")

    def checklist_answers(self) -> pd.DataFrame:
        """Every checklist answer with the images its rater saw, raters by pseudonym."""
        with self._db() as db:
            return checklist_ratings.read(db, self.run_dir)

    def long_ratings(self, table: pd.DataFrame | None = None) -> pd.DataFrame:
        """Ratings (`table`, default: all of `ratings()`) in stats' long layout: subject = the
        condition, category = modality."""
        table = self.ratings() if table is None else table
        return pd.concat([
            pd.DataFrame({"subject": table["item"], "category": table["modality"],
                          "aspect": aspect, "rating": table[aspect]})
            for aspect in stats.ASPECTS
        ], ignore_index=True)

    def rated(self) -> pd.DataFrame:
        """`ratings()`, refused with a sentence while there are none."""
        table = self.ratings()
        if table.empty:
            raise PlaygroundError("No ratings yet in this run: rate a condition or two, then show the statistics.")
        return table

    def report(self) -> study_report.StudyReport:
        """The statistics of the ratings so far, written to `report/` in the run folder (see
        research/study_report.py)."""
        return study_report.of_ratings(self.rated(), self.long_ratings, self.run_dir / "report")


def _taken(name: str) -> str:
    return (f"The rater name {name!r} is taken in this run and the rater key sent is not its key. Paste your "
            "rater key (the page gave it when you first started), or choose another name.")
