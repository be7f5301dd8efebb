"""Preference pairs for fine-tuning, from everything people and judges said about images.

Sources, each pair "image 0 is preferred to image 1":
- the Arena's votes (ties left out): the winner over the loser;
- the library's votes: within a subject and model, a record with more votes over one with fewer;
- study ratings: an image a rater marked best over the other images of that condition; and, per
  rater and subject, the images of a condition rated higher (content) over those of one rated lower
  (raters are named by their pseudonym in the run, research/blind.py: a name never leaves the run);
- judge scores of rated and swept runs: within one condition (same prompt and setting), the image
  the checklist judge scores higher by at least MARGIN.

Two layouts (`export`):
- "magic": MAGIC's trainer (janet-sw/MAGIC) reads every *.json of a folder (here scores/), one per
  rater or judge, each a list with one [score of image 0, score of image 1] per pair, all in the
  same order, and averages them; scores are scaled to 0-1 per source, and a source that did not
  judge a pair gives [0, 0] (no preference). Beside it: prompt.json (captions), image.json (the
  pair's files), images/{2j+k:05}.png (MAGIC's naming) and pairs.csv (where each pair came from).
- "dpo": a Hugging Face dataset in diffusers' Diffusion-DPO layout: `caption`, `jpg_0`, `jpg_1`
  (PNG bytes) and `label_0` (1: jpg_0 is preferred), plus `source` and `subject`; saved with
  `save_to_disk` (load it with `datasets.load_from_disk`, push it with `push_to_hub`) and as
  parquet/train.parquet, which the training script reads with `--dataset_name DIR/parquet
  --dataset_split_name train`.

A caption is the prompt when both images share it, else the subject they both depict.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import pandas as pd

from ..config import get_settings
from ..csv_files import write_csv
from ..errors import PlaygroundError
from ..files import atomic
from ..stores.arena_votes import open_arena
from ..stores.library import Library
from .access import runs
from .study import RatingSession

FORMATS = ("magic", "dpo")
MARGIN = 0.05  # judge scores closer than this are no preference
SCALE_TOP = 4  # the study's rating scale is 0-4


@dataclass(frozen=True)
class Pair:
    """Image 0 preferred to image 1 by `source` ("arena", "library", "rater:PSEUDONYM", "judge:ID"),
    with the source's scores of each on 0-1."""

    caption: str
    subject: str
    image_0: str
    image_1: str
    source: str
    score_0: float = 1.0
    score_1: float = 0.0


def _caption(prompt_0: str, prompt_1: str, subject: str) -> str:
    return prompt_0 if prompt_0 == prompt_1 else subject


def arena_pairs() -> Iterator[Pair]:
    for kind in ("template", "model"):
        for vote in open_arena().votes(kind=kind).itertuples():
            if vote.winner == "tie" or not (vote.left_image and vote.right_image):
                continue
            sides = [(vote.left_image, vote.left_prompt), (vote.right_image, vote.right_prompt)]
            (win, win_prompt), (lose, lose_prompt) = sides if vote.winner == "left" else sides[::-1]
            yield Pair(_caption(win_prompt, lose_prompt, vote.subject), vote.subject, win, lose, "arena")


def library_pairs() -> Iterator[Pair]:
    library = Library()
    records = library.to_frame().assign(path=lambda f: [str(p) if p else "" for p in library.image_paths(f)])
    records = records[records["path"] != ""]
    for _, group in records.groupby(["subject", "model_id"]):
        top = group["votes"].max()
        for a, b in combinations(group.itertuples(), 2):
            if a.votes != b.votes:
                more, fewer = (a, b) if a.votes > b.votes else (b, a)
                yield Pair(_caption(more.prompt, fewer.prompt, more.subject), more.subject, more.path, fewer.path,
                           "library", more.votes / top, fewer.votes / top)


def _runs() -> Iterator[tuple[Path, pd.DataFrame]]:
    for name in runs():
        folder = get_settings().runs_dir / name
        yield folder, pd.read_parquet(folder / "results.parquet")


def rating_pairs() -> Iterator[Pair]:
    for folder in (get_settings().runs_dir / name for name in runs()):
        if not (folder / "ratings.sqlite").is_file():
            continue
        ratings = RatingSession(folder).ratings()

        def image(file: str, folder: Path = folder) -> str:
            return str(folder / "images" / file)

        for r in ratings.itertuples():
            shown = r.shown.split(",")
            for other in (f for f in shown if r.best_image and f != r.best_image):
                yield Pair(r.prompt, r.subject, image(r.best_image), image(other), f"rater:{r.rater}")
        for (rater, subject), group in ratings.groupby(["rater", "subject"]):
            for a, b in combinations(group.itertuples(), 2):
                if a.content != b.content:
                    high, low = (a, b) if a.content > b.content else (b, a)
                    for x, y in zip(high.shown.split(","), low.shown.split(",")):
                        yield Pair(_caption(high.prompt, low.prompt, subject), subject, image(x), image(y),
                                   f"rater:{rater}", high.content / SCALE_TOP, low.content / SCALE_TOP)


def judge_pairs() -> Iterator[Pair]:
    for folder, frame in _runs():
        score = "vlm_score" if "vlm_score" in frame and frame["vlm_score"].notna().any() else "criteria_score"
        if score not in frame:
            continue
        judge = frame["vlm_id"].dropna().iloc[0] if score == "vlm_score" else f"clip-criteria:{frame['clip_scorer'].iloc[0]}"
        frame = frame[frame[score].notna() & (frame["image_problem"] == "")]
        for _, group in frame.groupby(["prompt", "setting_key"]):
            for a, b in combinations(group.itertuples(), 2):
                sa, sb = getattr(a, score), getattr(b, score)
                if abs(sa - sb) >= MARGIN:
                    high, low = (a, b) if sa > sb else (b, a)
                    yield Pair(a.prompt, a.subject, str(folder / "images" / high.image_file),
                               str(folder / "images" / low.image_file), f"judge:{judge}",
                               float(getattr(high, score)), float(getattr(low, score)))


def pairs() -> list[Pair]:
    """Every preference pair the library, the Arena, the study ratings and the judges give."""
    return [*arena_pairs(), *library_pairs(), *rating_pairs(), *judge_pairs()]


def _slug(source: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", source).strip("-") or "source"


def export_magic(found: list[Pair], out: Path) -> Path:
    """MAGIC's folder: one score file per source over every pair, and the pairs' images."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    files = []
    for j, pair in enumerate(found):
        for k, path in enumerate((pair.image_0, pair.image_1)):
            files.append(f"images/{2 * j + k:05}.png")
            shutil.copyfile(path, out / files[-1])
    for source in dict.fromkeys(p.source for p in found):
        scores = [[p.score_0, p.score_1] if p.source == source else [0.0, 0.0] for p in found]
        with atomic(out / "scores" / f"{_slug(source)}.json") as tmp:  # MAGIC's json_path: score files only
            tmp.write_text(json.dumps(scores), encoding="utf-8")
    for name, value in (("prompt.json", [p.caption for p in found]),
                        ("image.json", [files[2 * j : 2 * j + 2] for j in range(len(found))])):
        with atomic(out / name) as tmp:
            tmp.write_text(json.dumps(value), encoding="utf-8")
    write_csv(pd.DataFrame([asdict(p) for p in found]), out / "pairs.csv")
    return out


def export_dpo(found: list[Pair], out: Path) -> Path:
    """The Diffusion-DPO dataset: saved with `save_to_disk` in `out`, and as parquet/train.parquet."""
    from datasets import Dataset, Features, Value

    features = Features({"caption": Value("string"), "jpg_0": Value("binary"), "jpg_1": Value("binary"),
                         "label_0": Value("int64"), "source": Value("string"), "subject": Value("string")})
    rows = {"caption": [p.caption for p in found], "jpg_0": [Path(p.image_0).read_bytes() for p in found],
            "jpg_1": [Path(p.image_1).read_bytes() for p in found], "label_0": [1] * len(found),
            "source": [p.source for p in found], "subject": [p.subject for p in found]}
    dataset = Dataset.from_dict(rows, features=features)
    dataset.save_to_disk(str(out))
    (out / "parquet").mkdir(exist_ok=True)
    dataset.to_parquet(str(out / "parquet" / "train.parquet"))
    return out


def export(fmt: str, out: Path) -> tuple[Path, int]:
    """Write every preference pair to `out` in `fmt` ("magic" or "dpo"); the folder and the count."""
    if fmt not in FORMATS:
        raise PlaygroundError(f"Preference data is exported as {' or '.join(FORMATS)}, not {fmt!r}.")
    found = pairs()
    if not found:
        raise PlaygroundError("No preference pairs yet: vote in the Arena, prefer images to the library, rate a run "
                              "in the Study tab, or sweep a study with a judge.")
    out.mkdir(parents=True, exist_ok=True)
    return (export_magic if fmt == "magic" else export_dpo)(found, out), len(found)

