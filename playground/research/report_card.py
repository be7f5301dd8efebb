"""A report card per model: the original study's protocol drawn by one model, judged by every judge.

    playground report-card stable-diffusion-v1-5/stable-diffusion-v1-5 --out cards/sd15
    playground report-card MODEL_A MODEL_B --out cards/a-vs-b        # two cards side by side
    playground report-card tiny-offline --quick --out cards/quick  # a small cut for a CPU

The protocol is the original GLIDE study's (prompt_library/studies/glide-replication.yaml): its 8
styles x 17 topics, each short and detailed, without and with CLIP guidance where the model
supports it (models.yaml's `clip_guidance`; a model the registry does not know draws without). The
images are drawn and judged on the sweep machinery, so a card resumes where it stopped and
`accelerate launch` spreads the drawing as it spreads any sweep. Every judge configured runs
(PLAYGROUND_SCORER, PLAYGROUND_MEDICAL_SCORER, each modality's domain CLIP, PLAYGROUND_JUDGE, the
x-ray classifier, the probe), and the page sets each judge's mean per style, topic, phrasing and
setting beside the original experts' medians for GLIDE (prompt_library/study-data/); a second,
smaller run draws the styles that have patient subgroups once per subgroup, for the gaps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import gaps, schema, stats
from ..catalog.curated import Curated, load_curated
from ..catalog.demographics import load_demographics
from ..catalog.templates import load_templates
from ..config import get_settings
from ..errors import PlaygroundError
from ..judges.probe import top_label
from ..models.registry import capabilities
from ..render import report_card_html
from ..render.report_card_html import CardView
from .sweep import Study, load_study, sweep

PROTOCOL = "glide-replication"  # the shipped study file that holds the original protocol
AXES = {  # section heading -> the grouping column (`with_axes` adds style, topic and phrasing)
    "Judge scores per style": "style",
    "Judge scores per topic": "topic",
    "Short and detailed prompts": "phrasing",
    "Without and with CLIP guidance": "setting",
}
EXPERT_ASPECTS = {aspect: f"experts {aspect} (GLIDE median, 0-4)" for aspect in stats.ASPECTS}
EXPERT_SCALE = 4.0  # the original study's ratings run 0 (completely wrong) to 4 (perfectly correct)
TOP_CONFUSIONS = 30  # rows of the confusion table, most frequent first


@dataclass(frozen=True)
class ReportCard:
    """One model's card: the protocol it ran, where its run lies, the run's result frame with the
    protocol's axes (`with_axes`), and the frame of its patient-subgroup run (`subgroup_protocol`)."""

    model: str
    study: Study
    run: Path
    frame: pd.DataFrame
    subgroups: pd.DataFrame


def protocol(model: str, quick: bool = False) -> Study:
    """The original protocol for `model`, judged by the configured judges. `quick` keeps the
    sweep's reduced cut (2 subject phrasings, 2 styles, 2 steps; guided rows the fewest steps
    guidance runs on) with one seed: 8 images, seconds on a CPU. CLIP-guided rows stay only where
    the registry says the model honours CLIP guidance: a refusal halfway through a sweep would
    waste what came before."""
    config = get_settings()
    study = load_study(PROTOCOL, reduced=quick)
    known = capabilities(model)
    settings = [s for s in study.settings if not s.clip_guidance_scale or (known and known.clip_guidance)]
    return study.model_copy(update={
        "name": f"report-card-{run_name(model, quick)}", "model": model, "settings": settings,
        "seeds": 1 if quick else study.seeds,
        "scorer": config.scorer, "medical_scorer": config.medical_scorer,
        "judge": None if config.judge == "none" else config.judge,
    })


def subgroup_protocol(study: Study, quick: bool = False) -> Study:
    """The protocol's patient-subgroup part: each short topic on each of the protocol's styles that
    has subgroups (demographics.yaml: skin photographs, x-ray, CT, MRI), drawn once per subgroup on
    the first setting (no CLIP guidance), one seed (every topic is another image of a subgroup).
    `quick`: the first topic on the first such style, 2 seeds (an interval needs 2 images)."""
    demographics, templates = load_demographics(), load_templates()
    covered = {m for axis in demographics.axes for m in axis.modalities}
    styles = [t for t in load_study(PROTOCOL).templates if templates[t].modality in covered]
    topics = [s for s in load_study(PROTOCOL).subjects if "," not in s]
    settings = [s for s in study.settings if not s.clip_guidance_scale][:1]
    return study.model_copy(update={
        "name": f"{study.name}-subgroups", "demographics": True, "settings": settings,
        "templates": styles[:1] if quick else styles, "subjects": topics[:1] if quick else topics,
        "seeds": 2 if quick else 1,
    })


def run_name(model: str, quick: bool = False) -> str:
    """The folder of `model`'s run under `out`/runs: its id made safe for a file name, '-quick' for the cut."""
    return (re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.") or "model") + ("-quick" if quick else "")


def run_card(model: str, out: Path, quick: bool = False) -> ReportCard | None:
    """Draw and judge (or resume) `model`'s protocol in `out`/runs/<model>[-quick]; None on the
    other processes of an `accelerate launch` (the main one merges the table)."""
    study, run = protocol(model, quick), out / "runs" / run_name(model, quick)
    frame = sweep(study, run)
    subgroups = sweep(subgroup_protocol(study, quick), run.with_name(f"{run.name}-subgroups"))
    return None if frame is None or subgroups is None else ReportCard(model, study, run, with_axes(frame), subgroups)


def with_axes(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the protocol's axes as columns: style (the template's modality), topic (a
    subject's words before its first comma: the study's detailed phrasing is "{topic}, {definition}"),
    phrasing (short or detailed) and setting (its label)."""
    topic = frame["subject"].str.split(",").str[0].str.strip().str.lower()
    phrasing = frame["subject"].str.contains(",", regex=False).map({True: "detailed", False: "short"})
    return frame.assign(style=frame["modality"], topic=topic, phrasing=phrasing)


def original_ratings() -> pd.DataFrame:
    """The original study's ratings of GLIDE's images with the protocol's axes (style, topic, phrasing)."""
    return with_axes(stats.read_ratings(get_settings().original_study).rename(columns={"category": "modality"}))


def experts(ratings: pd.DataFrame, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The original experts' median rating of GLIDE's images (0-4) per style, topic and phrasing,
    one column per aspect (style, content), indexed by the axis's values; only over the styles
    and topics `frame` (with its axes) drew, so a cut of the protocol is set beside the same cut."""
    ratings = ratings[ratings["style"].isin(frame["style"]) & ratings["topic"].isin(frame["topic"])]
    found = {}
    for axis in ("style", "topic", "phrasing"):
        medians = ratings.groupby([axis, "aspect"])["rating"].median().unstack("aspect")
        found[axis] = medians[list(stats.ASPECTS)].rename(columns=EXPERT_ASPECTS)
    return found


def score_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The judges' declared score columns in `frame` that hold readings, and those that hold none
    (a judge that had nothing to say about these images: no x-ray, no domain CLIP)."""
    present = schema.scores(frame)
    return [c for c in present if frame[c].notna().any()], [c for c in present if frame[c].isna().all()]


def means(frame: pd.DataFrame, axis: str, expert: dict[str, pd.DataFrame], rows: Sequence[str] = ()) -> pd.DataFrame:
    """Each judge's mean per value of `axis` (a column of `with_axes(frame)`; images counted in
    `n`), in the protocol's order, beside the experts' medians for GLIDE where the original study
    had that axis. `rows`: the values to show, in order (another card's too, so two cards' rows
    align: a model without CLIP guidance shows that row with 0 images)."""
    scored, _ = score_columns(frame)
    grouped = frame.groupby(axis, sort=False)
    table = grouped[scored].mean().join(grouped.size().rename("n"))
    if rows:
        table = table.reindex(list(rows)).assign(n=lambda t: t["n"].fillna(0).astype(int))
    if axis in expert:
        table = table.join(expert[axis])
    return table[["n", *scored, *(c for c in table.columns if c not in scored and c != "n")]].rename_axis(axis).reset_index()


def confusions(frame: pd.DataFrame, curated: Curated) -> pd.DataFrame:
    """What the probe saw instead of the subject: per style, subject and label ranked first, how
    many images and the probe's mean probability, and whether the label is one of the subject's
    known confusers (confusions.yaml), the image's own style, or another style. `frame` has the
    protocol's axes (`with_axes`)."""
    styles = {s.label: s.id for s in curated.styles}
    rows = []
    for row in frame.itertuples():
        records = [] if row.probe_top3 is None else list(row.probe_top3)  # Parquet reads a list as an array
        if not records:
            continue
        seen, subject = top_label(records), row.subject.strip()
        if seen == subject:
            continue
        kind = ("its own style" if styles.get(seen) == row.style else "another style" if seen in styles
                else "known confuser" if seen in curated.confusers_of(subject) else "other")
        rows.append({"style": row.style, "subject": subject, "seen instead": seen, "kind": kind,
                     "p": float(records[0]["p"])})
    columns = ["style", "subject", "seen instead", "kind"]
    if not rows:
        return pd.DataFrame(columns=[*columns, "images", "mean p"])
    found = pd.DataFrame(rows).groupby(columns, sort=False)["p"].agg(["size", "mean"])
    found = found.rename(columns={"size": "images", "mean": "mean p"}).reset_index()
    return found.sort_values("images", ascending=False, kind="stable").head(TOP_CONFUSIONS)


def view(card: ReportCard, out: Path, ratings: pd.DataFrame, curated: Curated,
         rows: dict[str, list[str]] | None = None) -> CardView:
    """The card as the page shows it: its tables, sentences and plots (written under `out`/assets);
    `rows`: per axis, the values every card shows (`means`)."""
    frame, assets = card.frame, report_card_html.asset_folder(out, card.run.name)
    expert = experts(ratings, frame)
    scored, silent = score_columns(frame)
    tables = {heading: means(frame, axis, expert, (rows or {}).get(axis, ())) for heading, axis in AXES.items()}
    notes = dict.fromkeys(tables, "")
    per_style = next(iter(AXES))
    if silent:
        notes[per_style] = f"No readings on these images (left out): {', '.join(silent)}."
    plots = {per_style: report_card_html.plot_means(tables[per_style], "style", scored, list(EXPERT_ASPECTS.values()),
                                                    assets / "per-style.png", EXPERT_SCALE)}
    found = tables["Confusions the probe found"] = confusions(frame, curated)
    notes["Confusions the probe found"] = (
        f"{found['images'].sum() if len(found) else 0} of {len(frame)} images: CLIP's probe ranked another label "
        "above the subject (its top 3 among the subject, its known confusers and the 8 styles).")
    table = gaps.gaps(card.subgroups)
    tables["Subgroup gaps"] = gaps.gap_summary(table)
    plots["Subgroup gaps"] = gaps.plot(table, assets / "gaps.png")
    notes["Subgroup gaps"] = (
        f"{len(card.subgroups)} more images: {card.subgroups['subject'].nunique()} topic(s) on "
        f"{', '.join(card.subgroups['modality'].unique())}, once per patient subgroup (demographics.yaml), "
        "judged by every judge; each judge's largest gap between subgroup means with its 95% interval. A judge "
        "alone in scoring one group lower may be the judge, not the images.")
    sentence = (f"{len(frame)} images of {card.model}: {frame['style'].nunique()} styles x {frame['topic'].nunique()} "
                f"topic(s), {' and '.join(frame['phrasing'].unique())}, {card.study.seeds} seed(s), settings: "
                f"{'; '.join(s.label for s in card.study.settings)}. Judged by {', '.join(scored)}. Run folder: {card.run}.")
    if not any(s.clip_guidance_scale for s in card.study.settings):
        sentence += f" CLIP guidance left out: the model registry does not say that {card.model} supports it."
    return CardView(card.model, sentence, tables, notes, card.run, frame, plots, tuple(EXPERT_ASPECTS.values()))


def write_report_cards(models: Sequence[str], out: Path, quick: bool = False) -> Path | None:
    """Run (or resume) each model's protocol and write `out`/index.html: one card, or two side by
    side. Under `accelerate launch` every process draws its share of each model's units and the
    main process writes the page (the others return None)."""
    if not 1 <= len(models) <= 2:
        raise PlaygroundError(f"A report card compares one or two models side by side; got {len(models)}.")
    if len({run_name(m) for m in models}) != len(models):
        raise PlaygroundError(f"The models {', '.join(models)} would share one run folder; give two different models.")
    out.mkdir(parents=True, exist_ok=True)
    cards = [run_card(model, out, quick) for model in models]
    if any(card is None for card in cards):
        return None
    ratings, curated = original_ratings(), load_curated()
    rows = {axis: list(dict.fromkeys(value for card in cards for value in card.frame[axis])) for axis in AXES.values()}
    return report_card_html.write(out, [view(card, out, ratings, curated, rows) for card in cards])
