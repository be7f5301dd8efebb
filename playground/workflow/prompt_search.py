"""Searching prompts automatically: hill climbing on the checklist score, within a budget of images.

From a subject and a starting template, each step mutates the best prompt so far in one of five
ways (MUTATIONS): add a failed-prone criterion's wording, add a style phrase, swap two phrases,
drop a word, or put a synonym of the subject (subjects.yaml) in place of a name that invites a
confusion. A mutation is kept when the mean checklist score over the same search seeds rises.
The search stops when the next candidate would exceed the budget (counted in images drawn).
The best prompt is then drawn on held-out seeds beside the start, and its gain there is what
the search reports and logs to the library: the search seeds chose it, so only unseen seeds can
say whether it generalises.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..catalog.curated import Curated, load_curated
from ..catalog.templates import TemplateSet, load_templates
from ..comparison import Comparison
from ..csv_files import write_csv
from ..engine.generate import ProgressFn, run
from ..engine.progress import StepCounter
from ..errors import PlaygroundError
from ..judges.base import Context, Judges
from ..models.registry import model_preset
from ..stores.library import prefer
from ..types import Column
from .compare import evaluate, new_run_folder, save_result

MUTATIONS = ("criterion", "style", "reorder", "drop", "synonym")
STYLE_PHRASES = ("high resolution", "sharp focus", "clinical image", "as in a medical textbook", "realistic",
                 "detailed", "professional medical photography", "scientific illustration")
SEARCH_SEEDS, HELD_OUT_SEEDS = (0, 1), (1000, 1001)
HISTORY_COLUMNS = ["step", "mutation", "score", "kept", "images", "prompt"]  # the prompt last: it is long


@dataclass(frozen=True)
class SearchResult:
    """The search's outcome: prompts, their mean scores on the search seeds and on held-out
    seeds, the gain there, every step tried, and the library record of the best prompt."""

    start_prompt: str
    best_prompt: str
    start_score: float
    best_score: float
    held_out_start: float
    held_out_best: float
    history: pd.DataFrame
    record_id: int | None = None

    @property
    def gain(self) -> float:
        return self.held_out_best - self.held_out_start


def mutate(prompt: str, subject: str, modality: str, curated: Curated, rng: random.Random) -> tuple[str, str]:
    """One random mutation of `prompt` that changes it: (the new prompt, the mutation's name)."""
    phrases = [p.strip() for p in prompt.split(",") if p.strip()]
    options = {
        "criterion": [f"{prompt}, {c.present}" for c in curated.criteria_for(modality, subject)
                      if c.present.lower() not in prompt.lower()],
        "style": [f"{prompt}, {s}" for s in STYLE_PHRASES if s not in prompt],
        "reorder": [", ".join([*phrases[:1], *rng.sample(phrases[1:], len(phrases) - 1)])] if len(phrases) > 2 else [],
        "drop": [_without_word(prompt, subject, rng)] if len(prompt.split()) > len(subject.split()) + 2 else [],
        "synonym": [prompt.replace(subject, name) for name in curated.synonyms_of(subject) if subject in prompt],
    }
    choices = [(name, new) for name in MUTATIONS for new in options[name] if new and new != prompt]
    if not choices:
        raise PlaygroundError(f"No mutation changes the prompt {prompt!r}.")
    name, new = rng.choice(choices)
    return new, name


def _without_word(prompt: str, subject: str, rng: random.Random) -> str:
    """`prompt` less one word that is not part of the subject."""
    words = prompt.split()
    keep = set(subject.lower().split())
    droppable = [i for i, w in enumerate(words) if w.lower().strip(",.") not in keep]
    drop = rng.choice(droppable)
    return " ".join(w for i, w in enumerate(words) if i != drop)


class _Scorer:
    """Draws one prompt on some seeds and judges it: the mean checklist score. Its many small
    grids report as one: `images` in all, counted on one `StepCounter` (one bar, never restarting)."""

    def __init__(self, column: Column, subject: str, model_id: str, judges: Judges, context: Context,
                 progress: ProgressFn | None, images: int) -> None:
        self.column, self.subject, self.model_id = column, subject, model_id
        self.judges, self.context, self.progress = judges, context, progress
        self.setting = model_preset(model_id).settings[0]
        self.counter = StepCounter(images * self.setting.steps, images, progress, noun="images of the search")

    def _reporter(self, n_images: int) -> ProgressFn | None:
        """One grid's progress, counted on the search's counter (a download is passed on as it is)."""
        if self.progress is None:
            return None
        on_step = self.counter.batch_callback(n_images, self.setting.steps)

        def report(done: float, total: float, what: str = "") -> None:
            if what.startswith("Downloading"):
                self.progress(done, total, what)
            elif done:
                on_step(None, int(done) // n_images - 1, None, {})

        return report

    def result(self, prompt: str, seeds: Sequence[int]):
        comparison = Comparison(self.subject, [Column(prompt, self.column.template_id, self.column.negative_prompt,
                                                      self.column.modality)], [self.setting],
                                images_per_cell=len(seeds), base_seed=seeds[0], model_id=self.model_id,
                                guidance_scorer_id=self.judges.scorer_id)
        if list(comparison.seeds) != list(seeds):
            raise PlaygroundError("Search seeds must be consecutive numbers.")
        drawn = run(comparison, self._reporter(len(seeds)))
        self.counter.finish_batch()
        return evaluate(drawn, self.judges, self.context)

    def __call__(self, prompt: str, seeds: Sequence[int]) -> float:
        frame = self.result(prompt, seeds).frame
        return float(frame[self.judges.checklist].mean())


def search(
    subject: str, template_id: str, model_id: str, judges: Judges | str, budget: int = 16,
    seeds: Sequence[int] = SEARCH_SEEDS, held_out: Sequence[int] = HELD_OUT_SEEDS, seed: int = 0,
    templates: TemplateSet | None = None, context: Context | None = None, folder: Path | None = None,
    log: bool = True, progress: ProgressFn | None = None,
) -> SearchResult:
    """Hill-climb the prompt of `template_id` filled with `subject` on `model_id`, within
    `budget` images on the search `seeds`; then draw start and best on `held_out` seeds and, with
    `log`, prefer the best prompt's first held-out image to the library (its note gives the gain).
    `seed` seeds the choice of mutations, so a search is reproducible."""
    judges, context, templates = Judges.of(judges), context or Context(load_curated()), templates or load_templates()
    curated = context.curated
    column = templates[template_id].column(subject)
    drawn = budget // len(seeds) * len(seeds) + 2 * len(held_out)  # the search's images, then start and best held out
    score = _Scorer(column, subject, model_id, judges, context, progress, drawn)
    if budget < 2 * len(seeds):
        raise PlaygroundError(f"A budget of {budget} images cannot try a single mutation on {len(seeds)} seeds; "
                              f"give at least {2 * len(seeds)}.")
    rng = random.Random(seed)
    best = start = column.prompt
    best_score = start_score = score(start, seeds)
    if pd.isna(start_score):
        raise PlaygroundError(f"The prompt search needs the expert criteria of {column.modality!r}; it has none.")
    history = [{"step": 0, "mutation": "start", "prompt": start, "score": start_score, "kept": True, "images": len(seeds)}]
    used = len(seeds)
    while used + len(seeds) <= budget:
        candidate, mutation = mutate(best, subject, column.modality, curated, rng)
        value = score(candidate, seeds)
        used += len(seeds)
        kept = value > best_score
        history.append({"step": len(history), "mutation": mutation, "prompt": candidate, "score": value,
                        "kept": kept, "images": used})
        if kept:
            best, best_score = candidate, value
    folder = folder or new_run_folder()
    start_held, best_held = (score.result(p, held_out) for p in (start, best))
    saved = save_result(best_held, folder)
    held = [float(r.frame[judges.checklist].mean()) for r in (start_held, best_held)]
    write_csv(pd.DataFrame(history, columns=HISTORY_COLUMNS), folder / "search.csv")
    record_id = None
    if log:
        note = (f"prompt search from {template_id}: checklist score {held[0]:.3f} -> {held[1]:.3f} on held-out seeds "
                f"{', '.join(map(str, held_out))}")
        record_id = prefer(saved.frame.iloc[0].to_dict(), note).id
    return SearchResult(start, best, start_score, best_score, held[0], held[1],
                        pd.DataFrame(history, columns=HISTORY_COLUMNS), record_id)
