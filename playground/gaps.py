"""Gaps between patient subgroups: each judge's mean score per subgroup, and the largest gap.

Images drawn with the subgroup axis (their `subgroup` column set; see workflow/subgroups.py) are
grouped per judge (every score column the frame holds: schema.scores) and per subgroup set (by
modality: Fitzpatrick types and age-and-sex groups are never compared with each other). The
largest gap is the highest subgroup mean minus the lowest, in the judge's own units, with a
Welch t interval for the difference of those two means: unlike a bootstrap of max - min, which
is never below 0, it can straddle 0 and so says when the gap may be noise. The two subgroups are
picked by the data, so with many subgroups an interval that barely clears 0 is weak evidence.

A gap shows in every judge side by side: when one judge scores a subgroup lower and the others do
not, the judge (a CLIP that prefers light skin, say) rather than the images may be what differs.
No torch; plots load matplotlib on use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from . import schema
from .csv_files import write_csv
from .errors import PlaygroundError

BY = ("modality",)  # one subgroup set per modality: its axis in demographics.yaml
LEVEL = 0.95
GAP_COLUMNS = {  # what `gaps` returns besides the `by` columns, column: meaning
    "judge": "a judge's score column (schema.scores)",
    "subgroup": "the patient subgroup's id (demographics.yaml)",
    "label": "the subgroup's label, for people (the grid's `variant`)",
    "n": "images of the subgroup the judge scored",
    "mean": "the judge's mean score over those images, on its own scale",
    "gap": "the largest gap: highest subgroup mean minus lowest (the same on every row of one judge and set)",
    "gap_low": "lower end of the 95% Welch t interval of that difference (NaN: too few images)",
    "gap_high": "upper end of that interval",
    "highest": "the subgroup with the highest mean",
    "lowest": "the subgroup with the lowest mean",
    "note": "why the gap or its interval is blank, in words ('' when they stand)",
}


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """The `level` Welch t interval of mean(a) - mean(b); NaN, NaN when either has fewer than 2
    values. Values that do not vary give the difference itself at both ends."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if min(len(a), len(b)) < 2:
        return math.nan, math.nan
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return diff, diff
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(scipy_stats.t.ppf(0.5 + level / 2, df)) * math.sqrt(va + vb)
    return diff - half, diff + half


def _set_rows(judge: str, values: dict[str, np.ndarray], labels: dict[str, str], level: float) -> list[dict]:
    """One judge's rows for one subgroup set: each subgroup's n and mean, and the set's gap."""
    means = {name: float(v.mean()) for name, v in values.items()}
    order = sorted(means, key=means.get)  # stable: a tie keeps the subgroups' order
    lowest, highest = order[0], order[-1]
    gap, (low, high), note = math.nan, (math.nan, math.nan), ""
    if len(order) < 2:
        note = "only one subgroup has scores: no gap"
    else:
        gap = means[highest] - means[lowest]
        low, high = welch_interval(values[highest], values[lowest], level)
        if math.isnan(low):
            note = f"fewer than 2 images in {highest if len(values[highest]) < 2 else lowest}: no interval"
    return [{"judge": judge, "subgroup": name, "label": labels.get(name, name), "n": len(v), "mean": means[name],
             "gap": gap, "gap_low": low, "gap_high": high, "highest": highest, "lowest": lowest, "note": note}
            for name, v in values.items()]


def gaps(frame: pd.DataFrame, by: Sequence[str] = BY, level: float = LEVEL) -> pd.DataFrame:
    """Per judge and subgroup set (`by`), each subgroup's n and mean and the set's largest gap
    with its interval (GAP_COLUMNS); subgroups in the order the frame first shows them. Images
    without a subgroup are left out; a frame with none gives an empty table."""
    by = list(by)
    columns = [*by, *GAP_COLUMNS]
    if "subgroup" not in frame:
        return pd.DataFrame(columns=columns)
    drawn = frame[frame["subgroup"].fillna("").astype(str) != ""]
    labels = dict(zip(drawn["subgroup"], drawn["variant"])) if "variant" in drawn else {}
    rows = []
    for judge in schema.scores(drawn):
        for keys, group in drawn.groupby(by, sort=False):
            scored = group.dropna(subset=[judge])
            values = {name: g[judge].to_numpy(dtype=float) for name, g in scored.groupby("subgroup", sort=False)}
            if values:
                rows += [dict(zip(by, keys)) | row for row in _set_rows(judge, values, labels, level)]
    return pd.DataFrame(rows, columns=columns)


def gap_summary(table: pd.DataFrame, by: Sequence[str] = BY) -> pd.DataFrame:
    """One row per judge and subgroup set: each subgroup's mean as a column (by label, in order),
    then the gap, its interval and which subgroups are highest and lowest (what Compare shows)."""
    keys = [*by, "judge"]
    means = table.pivot_table(index=keys, columns="label", values="mean", sort=False)
    means = means[list(dict.fromkeys(table["label"]))]
    spans = table.drop_duplicates(keys).set_index(keys)[["gap", "gap_low", "gap_high", "highest", "lowest", "note"]]
    return means.join(spans).reset_index().rename_axis(columns=None)


def plot(table: pd.DataFrame, path: Path, by: Sequence[str] = BY) -> Path:
    """Every judge's subgroup means side by side (each on 0-1 of its own scale), one panel per
    subgroup set, each judge's gap and interval written above its bars; saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(table.groupby(list(by), sort=False))
    fig, axes = plt.subplots(len(sets), 1, figsize=(12, 4.2 * len(sets)), squeeze=False)
    for ax, (keys, block) in zip(axes[:, 0], sets):
        judges, labels = list(dict.fromkeys(block["judge"])), list(dict.fromkeys(block["label"]))
        width = 0.8 / len(labels)
        for k, label in enumerate(labels):
            rows = block[block["label"] == label].set_index("judge").reindex(judges)
            heights = [schema.COLUMNS[j].normalised(m) for j, m in zip(judges, rows["mean"])]
            ax.bar(np.arange(len(judges)) - 0.4 + width * (k + 0.5), heights, width, label=label)
        for i, judge in enumerate(judges):
            first = block[block["judge"] == judge].iloc[0]
            digits = schema.COLUMNS[judge].decimals
            said = "no gap" if math.isnan(first["gap"]) else f"gap {first['gap']:.{digits}f}" + (
                "" if math.isnan(first["gap_low"]) else f"\n[{first['gap_low']:.{digits}f}, {first['gap_high']:.{digits}f}]")
            ax.text(i, 1.02, said, ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(judges)), judges, rotation=20, ha="right")
        ax.set_ylim(0, 1.25)
        ax.set_ylabel("mean score (0-1 of each judge's scale)")
        keys = keys if isinstance(keys, tuple) else (keys,)
        ax.set_title(f"{', '.join(map(str, keys))}: each judge's mean per patient subgroup; the largest gap "
                     f"(its {LEVEL:.0%} interval) above", loc="left", fontsize=10)
        ax.legend(fontsize=8, ncols=min(len(labels), 6), loc="upper right", bbox_to_anchor=(1, -0.25))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def read_results(path: Path) -> tuple[pd.DataFrame, Path]:
    """A result table and the folder it lies in: a sweep's run folder (its results.parquet), or a
    .parquet or .csv file (a Compare ZIP's results.csv)."""
    table = path / "results.parquet" if path.is_dir() else path
    if not table.is_file() or table.suffix not in (".parquet", ".csv"):
        raise PlaygroundError(f"There is no results table at {table}; give a sweep's run folder, or a results "
                              ".parquet or .csv file.")
    return (pd.read_parquet(table) if table.suffix == ".parquet" else pd.read_csv(table)), table.parent


def write(table: pd.DataFrame, out: Path, by: Sequence[str] = BY) -> list[Path]:
    """gaps.csv (the table) and gaps.png (the plot) in `out`, created if need be."""
    out.mkdir(parents=True, exist_ok=True)
    return [write_csv(table, out / "gaps.csv"), plot(table, out / "gaps.png", by)]
