"""MAGIC's loop: expert criteria the image fails become feedback that draws a better image.

Each round reads the kept image's checklist (the vision-language judge's P(yes) per criterion, or
CLIP's when no judge is chosen). The failed criteria's positive statements join the prompt; the
subject's known confusers and the failed criteria's failure statements join the negative prompt.
N candidates are drawn from the kept image by image-to-image at `strength` (MAGIC samples at 0.3)
and judged; the best is kept when its score beats the kept image's. The loop stops after K
rounds, when every criterion passes, or when no candidate improves.

Seed policy: candidate i of round r is drawn with seed ``start seed + r * SEED_STRIDE + i``, so a
refinement is reproducible and never reuses a seed of its start grid (seeds there are small).

Every image is a PNG with its parameters, and every step has a library record's content hash; a
step preferred to the library keeps its lineage (its parent's hash, its round and strength).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image

from .. import samplers, schema
from ..catalog.curated import Criterion, Curated, load_curated
from ..catalog.templates import TemplateSet
from ..comparison import Comparison
from ..csv_files import write_csv
from ..engine.generate import (
    ProgressFn,
    check_image_to_image,
    image_problem,
    image_to_image,
    run,
)
from ..errors import PlaygroundError
from ..judges.base import Context, Judges
from ..judges.criteria import PASS
from ..models.registry import model_preset
from ..render.export import save_images
from ..stores.records import content_hash
from ..types import GuidanceSetting
from .compare import new_run_folder

STRENGTH = 0.3  # MAGIC's image-to-image strength
SEED_STRIDE = 1000
MAX_ROUNDS, MAX_CANDIDATES = 10, 8
TRAJECTORY_COLUMNS = ["round", "candidate", "seed", "strength", "prompt", "negative_prompt", "checklist_score",
                      "checklist_column", "checklist_by", "criteria_passed", "flipped", "kept", "image_path", "parent", "record_hash"]


@dataclass(frozen=True)
class Start:
    """The image a refinement starts from and everything that made it (a grid image's row)."""

    row: Mapping  # a result frame row: subject, template_id, modality, prompt, negative_prompt, model_id, ...
    image: Image.Image

    @property
    def setting(self) -> GuidanceSetting:
        """The start's guidance row (its sampler where the playground names it, else the default)."""
        scheduler = self.row["scheduler"] if self.row["scheduler"] in samplers.names() else samplers.DEFAULT
        return GuidanceSetting(float(self.row["guidance_scale"]), int(self.row["steps"]), scheduler,
                               self.row.get("setting_negative_prompt") or "")

    @classmethod
    def drawn(cls, subject: str, template_id: str, model_id: str, templates: TemplateSet, seed: int = 0) -> Start:
        """A start drawn from scratch: the template filled with `subject`, on the model's first
        recommended row (the CLI's start)."""
        column = templates[template_id].column(subject)
        result = run(Comparison(subject, [column], [model_preset(model_id).settings[0]], images_per_cell=1,
                                base_seed=seed, model_id=model_id))
        return cls(result.frame.iloc[0].to_dict(), result.images[0])


@dataclass(frozen=True)
class Feedback:
    """What a round adds: statements for the prompt, and for the negative prompt."""

    add: tuple[str, ...]
    avoid: tuple[str, ...]

    def prompt(self, prompt: str) -> str:
        return _joined(prompt, self.add)

    def negative(self, negative: str) -> str:
        return _joined(negative, self.avoid)


def _joined(text: str, additions: tuple[str, ...]) -> str:
    """`text` with each addition it does not already hold appended, comma-separated."""
    new = [a for a in dict.fromkeys(additions) if a and a.lower() not in text.lower()]
    return ", ".join(p for p in (text.strip(), *new) if p)


def feedback(subject: str, failed: list[Criterion], curated: Curated) -> Feedback:
    """The failed criteria's positive statements for the prompt; the subject's confusers and the
    failed criteria's failure statements for the negative prompt."""
    return Feedback(tuple(c.present for c in failed), (*curated.confusers_of(subject), *(c.absent for c in failed)))


@dataclass(frozen=True)
class Reading:
    """One image's checklist: its score (the mean probability), "k/n" passed, and each criterion's
    pass (those a failed gate skipped left out)."""

    score: float
    passed: str
    marks: dict[str, bool]


def read_checklists(frame: pd.DataFrame, images: list[Image.Image], judges: Judges, context: Context) -> list[Reading]:
    """Each image's checklist, read by the panel's checklist judge (the vision-language model's
    P(yes) per question when one is chosen, else CLIP's criteria), from its structured column."""
    reader = next(j for j in judges.judges if j.id == ("vlm" if judges.vlm_id else "criteria"))
    frame = reader(frame, images, context)
    labels = {c.id: c.label for c in context.curated.criteria}
    readings = []
    for _, row in frame.iterrows():
        if judges.vlm_id:  # a question its failed gate skipped is neither passed nor feedback
            marks = {labels[a["id"]]: a["p_yes"] > PASS for a in row["vlm_checklist"] if not a.get("skipped")}
        else:
            marks = {c["label"]: bool(c["passed"]) for c in row["criteria"] if not c.get("skipped")}
        readings.append(Reading(float(row[judges.checklist]), f"{sum(marks.values())}/{len(marks)}", marks))
    return readings


def _frame(start: Start, prompt: str, negative: str, seeds: list[int], images: list[Image.Image],
           refined: bool = True) -> pd.DataFrame:
    """The generate columns of refined images: the start's row with this round's texts and seeds
    (image-to-image draws without CLIP guidance, and decodes with the model's VAE: a refined
    draft is a full image)."""
    rows = [{**{k: start.row[k] for k in schema.of_step("generate") if k in start.row}, "prompt": prompt,
             "negative_prompt": negative, "seed": seed, "seconds": 0.0, "from_cache": False, "prompt_ignored": "",
             "negative_ignored": "", "image_problem": image_problem(image, False),
             **({"clip_guidance_scale": 0.0, "decoder": "full", "guidance_decoder": ""} if refined else {})}
            for seed, image in zip(seeds, images)]
    return schema.new_frame(rows)


def _flipped(before: dict[str, bool], after: dict[str, bool]) -> str:
    """Criteria whose verdict changed: "+label" now passes, "-label" now fails."""
    return ", ".join(f"{'+' if after[k] else '-'}{k}" for k in after if k in before and after[k] != before[k])


def refine(
    start: Start, judges: Judges | str, rounds: int = 3, candidates: int = 4, strength: float = STRENGTH,
    context: Context | None = None, folder: Path | None = None, progress: ProgressFn | None = None,
) -> Iterator[pd.DataFrame]:
    """Refine `start` for up to `rounds` rounds of `candidates` image-to-image candidates,
    yielding the trajectory (TRAJECTORY_COLUMNS, round 0 = the start) after every round.

    The kept judge score never goes down: a round's best candidate is kept only when it beats the
    kept image. Images and `trajectory.csv` are written to `folder` (default: a new run folder).
    """
    judges, context = Judges.of(judges), context or Context(load_curated())
    curated = context.curated
    if not 1 <= rounds <= MAX_ROUNDS or not 1 <= candidates <= MAX_CANDIDATES:
        raise PlaygroundError(f"Refine runs 1 to {MAX_ROUNDS} rounds of 1 to {MAX_CANDIDATES} candidates, "
                              f"got {rounds} rounds of {candidates}.")
    check_image_to_image(start.row["model_id"])
    folder = folder or new_run_folder()
    frame = _frame(start, start.row["prompt"], start.row["negative_prompt"], [int(start.row["seed"])], [start.image],
                   refined=False)
    (kept_reading,) = read_checklists(frame, [start.image], judges, context)
    if pd.isna(kept_reading.score):
        raise PlaygroundError(f"Refining needs the expert criteria of the image's modality; "
                              f"{start.row['modality'] or 'a free prompt'!r} has none. Use a template's prompt.")
    path = save_images(frame, [start.image], folder, "round0-")[0]
    kept = {"image": start.image, "prompt": start.row["prompt"], "negative": start.row["negative_prompt"],
            "hash": content_hash(start.row)}
    steps = [_step(0, 0, frame.iloc[0], 0.0, kept_reading, "", True, path, "", kept["hash"], judges)]
    yield _trajectory(steps, folder)
    for number in range(1, rounds + 1):
        failed = [c for c in curated.criteria_for(start.row["modality"], start.row["subject"])
                  if not kept_reading.marks.get(c.label, True)]
        if not failed:
            break  # every criterion passes
        advice = feedback(start.row["subject"], failed, curated)
        prompt, negative = advice.prompt(kept["prompt"]), advice.negative(kept["negative"])
        seeds = [int(start.row["seed"]) + number * SEED_STRIDE + i for i in range(candidates)]
        images = image_to_image(start.row["model_id"], kept["image"], prompt, negative, start.setting, seeds,
                                strength, progress)
        frame = _frame(start, prompt, negative, seeds, images)
        readings = read_checklists(frame, images, judges, context)
        paths = save_images(frame, images, folder, f"round{number}-")
        best = max(range(candidates), key=lambda i: readings[i].score)
        improved = readings[best].score > kept_reading.score
        hashes = [content_hash({**row, "parent": kept["hash"], "refine_round": number, "strength": strength})
                  for row in frame.to_dict("records")]
        steps += [_step(number, i, frame.iloc[i], strength, readings[i], _flipped(kept_reading.marks, readings[i].marks),
                        improved and i == best, paths[i], kept["hash"], hashes[i], judges) for i in range(candidates)]
        yield _trajectory(steps, folder)
        if not improved:
            break  # nothing improves
        kept = {"image": images[best], "prompt": prompt, "negative": negative, "hash": hashes[best]}
        kept_reading = readings[best]


def why_stopped(trajectory: pd.DataFrame, rounds: int) -> str:
    """Why a finished refine ended where it did, in a sentence (the loop's three ways out)."""
    last = int(trajectory["round"].max())
    kept = trajectory[trajectory["kept"]].iloc[-1]
    score = f"the kept image scores {kept['checklist_score']:.3f}, {kept['criteria_passed']} criteria passed"
    if not last:
        return f"Nothing to refine: every criterion passes already ({score})."
    if not trajectory[trajectory["round"] == last]["kept"].any():
        return f"Stopped after round {last}: no candidate beat the kept image ({score})."
    if last == rounds:
        return f"Ran all {rounds} round(s); {score}."
    return f"Stopped after round {last}: every criterion passes ({score})."


def _trajectory(steps: list[dict], folder: Path) -> pd.DataFrame:
    """The steps so far as a table, also written to `folder`/trajectory.csv (a crash keeps it)."""
    trajectory = pd.DataFrame(steps, columns=TRAJECTORY_COLUMNS)
    write_csv(trajectory, folder / "trajectory.csv")
    return trajectory


def _step(number: int, candidate: int, row: pd.Series, strength: float, reading: Reading, flipped: str, kept: bool,
          path: Path, parent: str, record_hash: str, judges: Judges) -> dict:
    """One row of the trajectory; its checklist score is named by the column it is
    (`checklist_column`: vlm_score or criteria_score) and the model that gave it."""
    return {"round": number, "candidate": candidate, "seed": int(row["seed"]), "strength": strength,
            "prompt": row["prompt"], "negative_prompt": row["negative_prompt"],
            "checklist_score": round(reading.score, 4), "checklist_column": judges.checklist,
            "checklist_by": judges.vlm_id or judges.scorer_id, "criteria_passed": reading.passed, "flipped": flipped,
            "kept": kept, "image_path": str(path), "parent": parent, "record_hash": record_hash}


def step_record(start: Start, step: Mapping) -> dict:
    """One step of a trajectory as a frame row for `library.prefer`: the start's generation
    columns, the step's texts, seed and image, its judge score, and its lineage (parent, round,
    strength) when it is a refined image."""
    generated = {k: v for k, v in start.row.items() if k in schema.of_step("generate")}
    lineage = {"parent": step["parent"], "refine_round": int(step["round"]), "strength": float(step["strength"])}
    refined = {**lineage, "clip_guidance_scale": 0.0} if step["parent"] else {}
    return {**generated, "prompt": step["prompt"], "negative_prompt": step["negative_prompt"], "seed": int(step["seed"]),
            "image_path": step["image_path"], "image_problem": "",
            step["checklist_column"]: float(step["checklist_score"]), **refined}

