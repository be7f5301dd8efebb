"""Share the prompt library beyond one machine through a Hugging Face dataset repo.

Each process appends its records as JSON lines to its own file in a local folder; huggingface_hub's
CommitScheduler pushes that folder every few minutes (appends happen under the scheduler's lock, so
a push never sees half a line). Nothing is lost when the Hub is unreachable: the lines stay in the
folder and the scheduler retries on its next tick; if the scheduler could not even start, it is
started again on a later append. On start, the app may pull the dataset to seed its local store;
a pull is the one import that carries vote counts (the dataset holds what the app's own mirrors
wrote, while a visitor's file could say anything).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ..errors import PlaygroundError

logger = logging.getLogger(__name__)

RETRY_START_S = 60.0
_mirrors: dict[tuple[str, Path], HubMirror] = {}
_mirrors_lock = threading.Lock()


class HubMirror:
    """A JSONL folder mirrored to the dataset repo `repo_id` (see module docstring)."""

    def __init__(self, repo_id: str, folder: Path, every_minutes: float = 5) -> None:
        self.repo_id, self.folder, self.every_minutes = repo_id, Path(folder), every_minutes
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file = self.folder / f"records-{uuid.uuid4().hex}.jsonl"
        self.scheduler = None
        self.problem: str | None = None
        self._lock = threading.Lock()
        self._last_start = 0.0
        self._start_in_background()

    def _start_in_background(self) -> None:
        self._last_start = time.monotonic()
        threading.Thread(target=self._start, name="hub-mirror-start", daemon=True).start()

    def _start(self) -> None:
        from huggingface_hub import CommitScheduler

        try:
            self.scheduler = CommitScheduler(
                repo_id=self.repo_id, repo_type="dataset", folder_path=self.folder, path_in_repo="records",
                every=self.every_minutes, allow_patterns="*.jsonl",
            )
            self.problem = None
        except Exception as exc:  # network, auth, permissions: all mean "not pushed yet"
            self.problem = f"could not start pushing to {self.repo_id} ({type(exc).__name__}: {exc})"
            logger.warning("Library rows are kept in %s; %s", self.folder, self.problem)

    def append(self, record: dict) -> None:
        """Add one record as a JSON line; it reaches the Hub with the scheduler's next push."""
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self.scheduler.lock if self.scheduler else self._lock, self.file.open("a", encoding="utf-8") as f:
            f.write(line)
        if self.scheduler is None and time.monotonic() - self._last_start > RETRY_START_S:
            self._start_in_background()


def mirror_for(repo_id: str, folder: Path) -> HubMirror:
    """One mirror (one scheduler thread) per repo and folder in this process."""
    with _mirrors_lock:
        key = (repo_id, Path(folder))
        if key not in _mirrors:
            _mirrors[key] = HubMirror(repo_id, folder)
        return _mirrors[key]


def pull(repo_id: str, import_jsonl: Callable[[Path], tuple[int, int]]) -> tuple[int, int]:
    """Download the dataset's JSONL files and merge them with `import_jsonl` (which keeps their
    votes: see the module docstring); (added, merged)."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, repo_type="dataset", allow_patterns="*.jsonl"))
    except (OSError, ValueError) as exc:  # unreachable, unknown repo, no access: huggingface_hub's errors are these
        raise PlaygroundError(f"Could not pull the library from the Hub dataset {repo_id} "
                              f"({type(exc).__name__}); the local library is unchanged.") from exc
    added = merged = 0
    for path in sorted(folder.rglob("*.jsonl")):
        a, m = import_jsonl(path)
        added, merged = added + a, merged + m
    return added, merged
