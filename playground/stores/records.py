"""What a library record may hold, checked the same way for every write: prefer, import, Hub pull.

A record's fields obey the limits a Compare request obeys (text length, number ranges, types);
scores are finite numbers (SQLite's JSON functions reject NaN, so one NaN would break every
listing); an image file name is only ever the record's own (its content hash), so a record can
neither point outside the images folder nor at another record's image. A record's time is a
checked timestamp, stored in one form (UTC, ISO 8601, to the second) so that sorting by date
sorts by time. An imported file's votes are checked like any field but kept only when asked
(`keep_votes`): a visitor's file cannot set or raise a count.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .. import db as store
from .. import limits
from ..config import get_settings
from ..errors import PlaygroundError
from ..types import MAX_CLIP_GUIDANCE, MAX_GUIDANCE, MAX_SEED

# Fields that make two records "the same": prompt and every setting that changes the image.
IDENTITY_FIELDS = (
    "prompt", "negative_prompt", "model_id", "scheduler", "steps", "guidance_scale", "seed", "width", "height",
)
TEXT_FIELDS = ("author", "subject", "template_id", "modality", "prompt", "negative_prompt", "model_id", "scheduler",
               "note", "setting_key", "setting_negative_prompt", "parent")
RECORD_FIELDS = (*TEXT_FIELDS, "steps", "guidance_scale", "clip_guidance_scale", "seed", "width", "height",
                 "refine_round", "strength")
OPTIONAL_FIELDS = ("author", "note", "modality", "clip_guidance_scale", "setting_key", "setting_negative_prompt",
                   "parent", "refine_round", "strength")
LINEAGE_FIELDS = ("parent", "refine_round", "strength")  # a refined image: what it was drawn from, and how
MAX_TAGS = 50
MAX_TAG_CHARS = 100
MAX_SCORES = 50
MAX_VOTES = 10**9
EARLIEST = datetime(2020, 1, 1, tzinfo=timezone.utc)  # before any record a playground could have made


def content_hash(record: Mapping) -> str:
    """SHA-256 of the prompt and settings; CLIP guidance joins only when on, and a refined image's
    lineage only when it has a parent, so hashes of records made before either existed stay valid."""
    identity = {name: record[name] for name in IDENTITY_FIELDS}
    identity["guidance_scale"] = float(identity["guidance_scale"])
    if float(record.get("clip_guidance_scale") or 0):
        identity["clip_guidance_scale"] = float(record["clip_guidance_scale"])
    if record.get("parent"):  # a refined image is its parent, the round and the strength too
        identity.update(parent=record["parent"], refine_round=int(record["refine_round"]),
                        strength=float(record["strength"]))
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def image_file_of(content_hash_: str) -> str:
    """The only image file name a record may have: its content hash's first 24 hex digits."""
    return f"{content_hash_[:24]}.png"


def _numbers(record: Mapping) -> dict:
    settings = get_settings()
    return {
        "steps": limits.whole_number(record["steps"], "steps", 1, settings.max_steps),
        "guidance_scale": limits.number(record["guidance_scale"], "guidance_scale", 0, MAX_GUIDANCE),
        "clip_guidance_scale": limits.number(record.get("clip_guidance_scale") or 0, "clip_guidance_scale", 0,
                                             MAX_CLIP_GUIDANCE),
        "seed": limits.whole_number(record["seed"], "seed", 0, MAX_SEED),
        "width": limits.whole_number(record["width"], "width", 8, settings.max_size),
        "height": limits.whole_number(record["height"], "height", 8, settings.max_size),
        "refine_round": limits.whole_number(record.get("refine_round") or 0, "refine_round", 0, 1000),
        "strength": limits.number(record.get("strength") or 0, "strength", 0, 1),
    }


def _tags(tags: object) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise PlaygroundError(f"tags must be a list of at most {MAX_TAGS} texts, got {type(tags).__name__}"
                              + (f" of {len(tags):,}" if isinstance(tags, list) else "") + ".")
    return [limits.text(tag, "a tag", MAX_TAG_CHARS) for tag in tags]


def _scores(scores: object) -> dict[str, float]:
    if scores is None:
        return {}
    if not isinstance(scores, Mapping) or len(scores) > MAX_SCORES:
        raise PlaygroundError(f"scores must be an object of at most {MAX_SCORES} names and numbers.")
    return {limits.text(name, "a score's name", MAX_TAG_CHARS): limits.number(value, f"score {name!r}", -1e9, 1e9)
            for name, value in scores.items()}


def checked(record: Mapping, where: str, scores: object = None, tags: object = None, **extra) -> dict:
    """The `records` columns for one record, every field checked; `where` names the record in the
    sentence that refuses it ("import.jsonl line 3: ...")."""
    missing = [name for name in RECORD_FIELDS if name not in record and name not in OPTIONAL_FIELDS]
    if missing:
        raise PlaygroundError(f"{where}: a library record needs {', '.join(missing)}.")
    limit = get_settings().max_prompt_chars
    try:
        values = {name: limits.text(record.get(name), name, limit) for name in TEXT_FIELDS}
        try:
            values.update(_numbers(record))
        except PlaygroundError as exc:
            raise PlaygroundError(f"a number field is not a number in range ({exc})") from None
        values.update(
            created=_created(extra.get("created")),
            scores=json.dumps(_scores(scores), allow_nan=False),
            tags=json.dumps(_tags(tags)),
            votes=limits.whole_number(extra.get("votes") or 1, "votes", 1, MAX_VOTES),
        )
    except PlaygroundError as exc:
        raise PlaygroundError(f"{where}: {str(exc).rstrip('.')}.") from None
    values["content_hash"] = content_hash(values)
    own = image_file_of(values["content_hash"])
    values["image_file"] = own if extra.get("image_file") == own else ""
    return values


def _created(value: object) -> str:
    """A record's time as the store writes it (now, if it has none); any other text is refused,
    as is a time before EARLIEST or more than a day ahead."""
    value = limits.text(value, "created", 64)
    if not value:
        return store.now_utc()
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise PlaygroundError(f"created must be an ISO 8601 time such as 2024-05-01T12:00:00+00:00, "
                              f"got {value!r}") from None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    latest = datetime.now(timezone.utc) + timedelta(days=1)
    if not EARLIEST <= when <= latest:
        raise PlaygroundError(f"created must lie between {EARLIEST:%Y-%m-%d} and today, got {value!r}")
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def read_jsonl(path: Path, keep_votes: bool = False) -> list[dict]:
    """Every record line of a JSONL export, checked; a file of another kind is refused in a sentence.

    Lines end at a newline only (an exported prompt may hold U+2028, which `str.splitlines` would
    split at); a UTF-8 byte-order mark, as some editors write, is skipped.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlaygroundError(f"{path.name} is not a JSON Lines export: it is not UTF-8 text (byte {exc.start:,} "
                              "is not). Export the library as .jsonl to import it elsewhere.") from None
    return [parse_line(line, f"{path.name} line {number}", keep_votes)
            for number, line in enumerate(text.split("\n"), start=1) if line.strip()]


def parse_line(line: str, where: str, keep_votes: bool = False) -> dict:
    """One line of a JSONL export as checked `records` columns; its votes only with `keep_votes`."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PlaygroundError(f"{where}: not valid JSON ({exc.msg}).") from None
    except RecursionError:
        raise PlaygroundError(f"{where}: nested too deeply to be a library record (one JSON object of "
                              "fields, its tags a list and its scores an object).") from None
    if not isinstance(record, dict):
        raise PlaygroundError(f"{where}: expected a JSON object, found {type(record).__name__}.")
    values = checked(
        record, where, scores=record.get("scores"), tags=record.get("tags"),
        created=record.get("created"), votes=record.get("votes"), image_file=record.get("image_file"),
    )
    return values if keep_votes else {**values, "votes": 1}  # checked like any field, counted only when kept
