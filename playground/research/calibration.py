"""The checklist judges against the experts: how far each judge's P(yes) can be trusted, per
criterion, and the calibration that corrects it.

Each yes or no a rater gave (research/checklist_ratings.py; unsure left out) is one row, paired
with each checklist judge's P(yes) for that criterion, averaged over the images that rater saw
(as the study reads every judge score). Each rating is a row, not a majority of the raters, so n
counts answers, and two raters of one condition count twice. Per judge (and the model that
answered) and criterion the report gives AUROC, Cohen's kappa at 0.5, the reliability diagram and
the expected calibration error, each with its n; `calibrate` fits an isotonic map per judge and
criterion and stores it (judges/calibration_store.py), and later comparisons show the calibrated
P(yes) beside the raw one (judges/calibrated.py).

    playground stats study RUN         # the run's report, this table and the diagrams included
    playground stats calibrate RUN     # fit and store the calibrations
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import calibration_stats as cs
from ..csv_files import write_csv
from ..db import now_utc
from ..judges import calibration_store
from ..judges.calibrated import SOURCES, answered, model_of
from .study import RatingSession

PAIR_COLUMNS = ["judge", "model", "criterion", "rater", "item", "label", "p"]  # what `pairs` returns
TABLE_COLUMNS = {  # what `table` returns, column: meaning
    "judge": "the checklist judge (its id: vlm, the vision-language model; criteria, CLIP's checklist)",
    "model": "the model that answered",
    "criterion": "criteria.yaml id",
    "n": "answers (yes or no; each rating one) paired with the judge's P(yes)",
    "n_yes": "how many of them are yes",
    "auroc": "AUROC of P(yes) against the answers (NaN without both yes and no)",
    "kappa": "Cohen's kappa of the judge's verdict (P(yes) > 0.5) with the answers",
    "ece": "expected calibration error over 10 bins of P(yes), 0-1 (0: calibrated)",
    "note": "why a number is blank or says little, in words ('' when they stand)",
}
GROUP = ["judge", "model", "criterion"]
FEW = 20  # fewer answers than this: the numbers say little


def pairs(session: RatingSession) -> pd.DataFrame:
    """Each yes or no answer beside each checklist judge's mean P(yes) for its criterion over the
    images its rater saw (a judge that did not answer it there gives no row)."""
    answers = session.checklist_answers()
    answers = answers[answers["answer"] != "unsure"]
    images = session.frame.set_index("image_file")
    rows = []
    for answer in answers.itertuples():
        shown = [images.loc[file] for file in answer.shown.split(",")]
        for source in SOURCES:
            p = [dict(answered(image, source)).get(answer.criterion) for image in shown]
            p = [value for value in p if value is not None]
            if p:
                rows.append({"judge": source.judge, "model": model_of(shown[0], source), "criterion": answer.criterion,
                             "rater": answer.rater, "item": answer.item, "label": int(answer.answer == "yes"),
                             "p": float(np.mean(p))})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def _note(n: int, n_yes: int) -> str:
    if n_yes in (0, n):
        return f"every answer is {'yes' if n_yes else 'no'}: AUROC needs both, and no calibration is fitted"
    return f"only {n} answers: these numbers say little; more ratings narrow them" if n < FEW else ""


def table(found: pd.DataFrame) -> pd.DataFrame:
    """Per judge, model and criterion of `found` (`pairs`): n, AUROC, kappa, ECE and a note."""
    rows = [{**dict(zip(GROUP, key)), "n": len(g), "n_yes": int(g["label"].sum()), "auroc": cs.auroc(g["label"], g["p"]),
             "kappa": cs.cohen_kappa(g["label"], g["p"]), "ece": cs.expected_calibration_error(g["label"], g["p"]),
             "note": _note(len(g), int(g["label"].sum()))}
            for key, g in found.groupby(GROUP, sort=False)]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def bins(found: pd.DataFrame) -> pd.DataFrame:
    """The reliability diagrams' points, per judge, model and criterion (calibration_stats.reliability)."""
    parts = [cs.reliability(g["label"], g["p"]).assign(**dict(zip(GROUP, key)))
             for key, g in found.groupby(GROUP, sort=False)]
    return pd.concat(parts, ignore_index=True)[GROUP + cs.RELIABILITY_COLUMNS] if parts else \
        pd.DataFrame(columns=GROUP + cs.RELIABILITY_COLUMNS)


def plot(found: pd.DataFrame, judge: str, model: str, out: Path) -> Path:
    """One judge's reliability diagrams, a panel per criterion: the share of yes against the mean
    P(yes) in each bin (dot area: answers), the diagonal a calibrated judge follows, and the
    isotonic fit where both answers occur."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = found[(found["judge"] == judge) & (found["model"] == model)]
    criteria = list(dict.fromkeys(mine["criterion"]))
    columns = min(len(criteria), 4)
    rows = -(-len(criteria) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 3.3 * rows + 0.6), squeeze=False)
    for ax, criterion in zip(axes.flat, criteria):
        g = mine[mine["criterion"] == criterion]
        points = cs.reliability(g["label"], g["p"])
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.scatter(points["mean_p"], points["observed"], s=20 + 12 * points["n"], zorder=3)
        if 0 < g["label"].sum() < len(g):
            grid = np.linspace(0, 1, 101)
            ax.plot(grid, cs.isotonic_fit(g["p"], g["label"])(grid), linewidth=1.2, label="isotonic fit")
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.05, 1.05), xlabel="judge's P(yes)", ylabel="experts' share of yes")
        ax.set_title(f"{criterion}\nn={len(g)}, ECE {cs.expected_calibration_error(g['label'], g['p']):.2f}",
                     loc="left", fontsize=9)
    for ax in list(axes.flat)[len(criteria):]:
        ax.axis("off")
    fig.suptitle(f"Reliability: {judge} ({model}) against the experts' checklist answers", x=0.01, ha="left")
    fig.tight_layout()
    path = out / f"reliability-{judge}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class CalibrationReport:
    """The checklist judges against the experts: the table (TABLE_COLUMNS), the reliability
    diagrams' points, one figure per judge, and a sentence on it."""

    table: pd.DataFrame
    bins: pd.DataFrame
    plots: list[Path]
    note: str


def report(session: RatingSession, out: Path | None = None) -> CalibrationReport:
    """Write calibration.csv, reliability.csv and a reliability-JUDGE.png per judge to `out`
    (default: the run's report/ folder)."""
    out = out or session.run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    found = pairs(session)
    summary, points = table(found), bins(found)
    write_csv(summary, out / "calibration.csv")
    write_csv(points, out / "reliability.csv")
    judges = found[["judge", "model"]].drop_duplicates()
    plots = [plot(found, j.judge, j.model, out) for j in judges.itertuples()]
    note = (f"Checklist: {len(found)} yes/no answers paired with a judge's P(yes) (unsure left out; each rating a "
            "row). Per judge and criterion: AUROC, Cohen's kappa at 0.5 and the expected calibration error, each "
            "with its n; the diagrams below." if len(found) else
            "Checklist: no yes or no answer yet that a checklist judge answered too (unsure ones are left out).")
    return CalibrationReport(summary, points, plots, note)


def fit(session: RatingSession, study: str | None = None) -> list[calibration_store.Calibration]:
    """An isotonic calibration per judge, model and criterion whose answers hold both yes and no,
    fitted on this run's answers (`study`: the name stored with it, default the run folder's)."""
    found, fitted = pairs(session), now_utc()
    return [calibration_store.Calibration(*key, study or session.run_dir.name, fitted, len(g),
                                          cs.isotonic_fit(g["p"], g["label"]))
            for key, g in found.groupby(GROUP, sort=False) if 0 < g["label"].sum() < len(g)]


def calibrate(session: RatingSession, study: str | None = None) -> list[calibration_store.Calibration]:
    """`fit` and store the calibrations; later comparisons apply the latest of each."""
    calibrations = fit(session, study)
    if calibrations:
        calibration_store.save(calibrations)
    return calibrations
