"""Who may open a run, and who may rate under a name: keys handed out once, only their hashes kept.

A run an operator sweeps into PLAYGROUND_HOME/runs/NAME with the command line (`playground sweep`)
is the operator's study: every visitor sees it listed and may rate it. A run made from a visitor's
own Compare grid (the Study tab's button, `/study_from_compare`) is that visitor's: the page hands
the visitor a run key (the browser keeps it), the run folder keeps only the key's SHA-256 (in
OWNER_FILE), and the run is listed and opened only for whoever sends the key. A rater's key works
the same way: `RatingSession.sign_in` keeps its hash in the run's ratings.sqlite.

Keys are 24 random URL-safe characters (144 bits), so a plain hash is enough (nothing to brute
force) and hashes are compared in constant time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from ..blinding import secret_key
from ..config import get_settings
from ..errors import PlaygroundError
from ..files import atomic, last_written

OWNER_FILE = ".owner-key-hash"
KEY = re.compile(r"[A-Za-z0-9_-]{24}")
MAX_RUN_KEYS = 100  # a browser remembers the keys of this many runs it made, the newest


def new_key() -> str:
    """A fresh key to hand out (shown once; only its hash is stored)."""
    return secrets.token_urlsafe(18)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def matches(key: str, stored: str) -> bool:
    """True when `key` is the key whose hash is `stored` (an empty hash matches no key)."""
    return bool(stored) and hmac.compare_digest(digest(key), stored)


def checked_key(key: object, what: str) -> str:
    """A key sent from outside: "" (none) or 24 letters, digits, '-' and '_' as `new_key` makes."""
    if key is None or key == "":
        return ""
    if not isinstance(key, str) or not KEY.fullmatch(key.strip()):
        raise PlaygroundError(f"The {what} must be the 24 letters, digits, '-' and '_' this page gave you "
                              f"(or empty to get a new one).")
    return key.strip()


def checked_keys(keys: object) -> dict[str, str]:
    """The run keys a browser sends ({run name: key}), checked: a mapping of short texts to keys."""
    if keys is None or keys == "":
        return {}
    if not isinstance(keys, Mapping) or len(keys) > MAX_RUN_KEYS or not all(
            isinstance(name, str) and len(name) <= 200 for name in keys):
        raise PlaygroundError(f"The run keys must map at most {MAX_RUN_KEYS} run names to their keys, "
                              "as /study_from_compare returns them.")
    return {name: checked_key(key, "run key") for name, key in keys.items()}


def remember(keys: Mapping[str, str], name: str, key: str) -> dict[str, str]:
    """`keys` with the new run's key, the oldest dropped beyond MAX_RUN_KEYS."""
    kept = {**{n: k for n, k in keys.items() if n != name}, name: key}
    return dict(list(kept.items())[-MAX_RUN_KEYS:])


def claim(folder: Path, key: str) -> None:
    """Make the run in `folder` private to whoever holds `key` (before it is finished, so it is
    never listed for everyone, not even for a moment)."""
    with atomic(folder / OWNER_FILE) as tmp:
        tmp.write_text(digest(key), encoding="ascii")


def idle_visitor_runs(hold_s: float = 86400) -> list[Path]:
    """Runs made from a visitor's Compare grid that nobody rated or made in the last `hold_s`
    seconds: disposable, like the grid they came from (files.trim_outputs may remove them). An
    operator's run (no owner) and a run someone is rating are never among them."""
    root = get_settings().runs_dir
    if not root.is_dir():
        return []
    now = time.time()
    return [folder for folder in root.iterdir()
            if (folder / OWNER_FILE).is_file() and now - last_written(folder) > hold_s]


def runs() -> list[str]:
    """Every run folder under PLAYGROUND_HOME/runs that holds a finished table (the operator's view:
    exports and the command line)."""
    root = get_settings().runs_dir
    return sorted(p.name for p in root.glob("*") if (p / "results.parquet").is_file()) if root.is_dir() else []


def visible_runs(keys: Mapping[str, str] | None = None) -> list[str]:
    """The runs a visitor may see: every operator's run, and the visitor's own runs whose keys
    `keys` ({run name: key}) holds."""
    keys = keys or {}
    root = get_settings().runs_dir
    return [name for name in runs() if _may_open(root / name, keys.get(name, ""))]


def _may_open(folder: Path, key: str) -> bool:
    owner = folder / OWNER_FILE
    return not owner.is_file() or matches(key, owner.read_text(encoding="ascii").strip())


def open_run(name: object, keys: Mapping[str, str] | None = None) -> Path:
    """The folder of run `name` if this visitor may rate it (`keys`: as in `visible_runs`)."""
    if not isinstance(name, str) or name not in visible_runs(keys):
        raise PlaygroundError("Choose a run to rate from the list (runs live in PLAYGROUND_HOME/runs; a run made "
                              "from a Compare grid is listed only in the browser that made it).")
    return get_settings().runs_dir / name


def browser_secret() -> str:
    """The secret the page's browser storage is encrypted with: kept in PLAYGROUND_HOME (never
    served), so what a browser keeps (its keys) stays readable after the app restarts."""
    return secret_key(get_settings().home, ".browser-state-key").hex()
