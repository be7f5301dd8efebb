"""Statistics of expert ratings: what the original study reported, for its data and for new studies.

Ratings are on the study's 0-4 scale (0 completely wrong ... 4 perfectly correct), for style and
content, per category (the image style / modality). Per category: median and IQR; across
categories: Kruskal-Wallis; between each pair: Kruskal-Wallis p-values (the published matrix) and
Mann-Whitney U with Holm's correction; between raters: Krippendorff's alpha (ordinal); between
automatic judges and the experts, and between judges: Spearman's rho with a confidence interval.
Where a number is undefined or rests on too few ratings to mean much, a note says so in words.
`report` writes CSV tables, PNG plots and one HTML page.

    playground stats report --out report        # the original study's ratings, shipped with the package
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .csv_files import write_csv
from .errors import PlaygroundError

ASPECTS = ("style", "content")
SUMMARY_COLUMNS = ["category", "aspect", "n", "median", "q1", "q3", "iqr"]  # what `summarize` returns
AGREEMENT_COLUMNS = {  # what `agreement` returns, column: meaning
    "judge": "a judge's score column",
    "compared_with": "an expert rating (style, content) or another judge's score column",
    "comparison": "'judge vs experts' or 'judge vs judge'",
    "rho": "Spearman's rho (NaN when undefined: see note)",
    "ci_low": "lower end of the 95% confidence interval of rho",
    "ci_high": "upper end of the 95% confidence interval of rho",
    "n": "pairs with both values",
    "note": "why rho is blank or says little, in words ('' when it stands)",
}
RATER_COLUMNS = ["aspect", "alpha", "units", "raters", "note"]  # what `rater_agreement` returns
MIN_PAIRS = 4  # Fisher's z interval needs n - 3 > 0
WIDE_INTERVAL = 1.0  # a 95% interval wider than half of rho's range (-1..1) says little; ~16 pairs or fewer
# The original workbook's column prefixes -> this project's modality ids (templates' `modality`).
STUDY_MODALITIES = {
    "microscopy": "microscopy", "histopath": "histopathology", "x-ray img.": "x-ray", "MR image": "mri",
    "CT image": "ct", "photograph": "photograph", "sci poster": "poster", "illustration": "illustration",
}


def read_ratings(path: Path, sheet: str = "matrix_nonsensical_as_zero") -> pd.DataFrame:
    """Ratings as a long table: subject, category, aspect, rating.

    Reads the original study's wide layout (a ``prompt`` column, then ``<category> style`` and
    ``<category> content`` columns; XLSX sheet or CSV), or a long CSV with those four columns.
    """
    path = Path(path)
    frame = _read_table(path, sheet)
    if {"subject", "category", "aspect", "rating"} <= set(frame.columns):
        return frame[["subject", "category", "aspect", "rating"]]
    if "prompt" not in frame.columns:
        raise PlaygroundError(f"{path}: expected a 'prompt' column (wide layout) or subject/category/aspect/rating columns.")
    frame = frame[frame["prompt"].astype(str).str.strip().str.lower() != "median"]  # summary row of matrix_vis
    rows = []
    for column in frame.columns.drop("prompt"):
        prefix, _, aspect = str(column).rpartition(" ")
        if aspect not in ASPECTS:
            raise PlaygroundError(f"{path}: column {column!r} is not '<category> style' or '<category> content'.")
        category = STUDY_MODALITIES.get(prefix, prefix)
        rows.append(pd.DataFrame({"subject": frame["prompt"].astype(str).str.strip(), "category": category,
                                  "aspect": aspect, "rating": pd.to_numeric(frame[column], errors="coerce")}))
    return pd.concat(rows, ignore_index=True).dropna(subset=["rating"])


def _read_table(path: Path, sheet: str) -> pd.DataFrame:
    """A sheet of a workbook, or a CSV; anything unreadable is said in one sentence."""
    if not path.is_file():
        raise PlaygroundError(f"There is no ratings file at {path}.")
    try:
        return pd.read_excel(path, sheet_name=sheet) if path.suffix in (".xlsx", ".xls") else pd.read_csv(path)
    except Exception as exc:  # pandas, openpyxl and zipfile each have their own errors for a bad file
        raise PlaygroundError(f"{path} could not be read as a ratings table (sheet {sheet!r}): {exc}") from exc


def read_observers(path: Path, sheet: str = "raw data") -> dict[str, pd.DataFrame]:
    """Per aspect, a units x raters table from the original workbook's ``Style_Observer1`` ... columns."""
    frame = _read_table(Path(path), sheet)
    return {
        aspect: frame[[c for c in frame.columns if c.lower().startswith(f"{aspect}_observer")]].apply(
            pd.to_numeric, errors="coerce")
        for aspect in ASPECTS
    }


def summarize(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per category and aspect: n, median, q1, q3 and IQR (linear quantiles)."""
    grouped = ratings.groupby(["category", "aspect"], sort=False)["rating"]
    table = pd.DataFrame({"n": grouped.size(), "median": grouped.median(), "q1": grouped.quantile(0.25),
                          "q3": grouped.quantile(0.75)})
    table["iqr"] = table["q3"] - table["q1"]
    return table.reset_index()[SUMMARY_COLUMNS]


def _groups(ratings: pd.DataFrame, aspect: str) -> dict[str, np.ndarray]:
    subset = ratings[ratings["aspect"] == aspect]
    return {category: group["rating"].to_numpy() for category, group in subset.groupby("category", sort=False)}


def kruskal_across(ratings: pd.DataFrame, aspect: str) -> tuple[float, float]:
    """Kruskal-Wallis H and p across all categories for one aspect (NaN with fewer than two)."""
    groups = list(_groups(ratings, aspect).values())
    if len(groups) < 2 or np.unique(np.concatenate(groups)).size == 1:
        return math.nan, math.nan
    result = scipy_stats.kruskal(*groups)
    return float(result.statistic), float(result.pvalue)


def pairwise_kruskal(ratings: pd.DataFrame, aspect: str) -> pd.DataFrame:
    """The published matrix: Kruskal-Wallis p-value between every pair of categories."""
    groups = _groups(ratings, aspect)
    names = list(groups)
    matrix = pd.DataFrame(np.nan, index=names, columns=names)
    for a, b in itertools.combinations(names, 2):
        matrix.loc[a, b] = matrix.loc[b, a] = _pvalue(scipy_stats.kruskal, groups[a], groups[b])
    return matrix


def _pvalue(test, a: np.ndarray, b: np.ndarray) -> float:
    if np.unique(np.concatenate([a, b])).size == 1:
        return 1.0  # all ratings equal: no evidence of a difference (scipy refuses this case)
    return float(test(a, b).pvalue)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of p-values for multiple comparisons."""
    order = np.argsort(pvalues)
    m = len(pvalues)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted.tolist()


def pairwise_mannwhitney(ratings: pd.DataFrame, aspect: str) -> pd.DataFrame:
    """Mann-Whitney U (two-sided) between every pair of categories, with Holm-adjusted p-values."""
    groups = _groups(ratings, aspect)
    rows = []
    for a, b in itertools.combinations(groups, 2):
        u = float(scipy_stats.mannwhitneyu(groups[a], groups[b], alternative="two-sided").statistic)
        rows.append({"a": a, "b": b, "U": u,
                     "p": _pvalue(lambda x, y: scipy_stats.mannwhitneyu(x, y, alternative="two-sided"), groups[a], groups[b])})
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p"].tolist()) if len(table) else []
    return table


def krippendorff_alpha(units_by_raters: pd.DataFrame, level: str = "ordinal") -> float:
    """Krippendorff's alpha for a units x raters table (NaN = not rated); defined for two or more
    raters once a unit has two ratings and the ratings vary (see `rater_agreement`)."""
    import krippendorff

    return float(krippendorff.alpha(reliability_data=units_by_raters.to_numpy(dtype=float).T,
                                    level_of_measurement=level))


def rater_agreement(observers: Mapping[str, pd.DataFrame], level: str = "ordinal") -> pd.DataFrame:
    """Krippendorff's alpha per aspect from units x raters tables, with the units it rests on (those
    rated by two or more raters) and, where it is undefined, why in words: alpha compares raters of
    the same unit, so it needs two raters of one unit and ratings that vary."""
    rows = []
    for aspect, table in observers.items():
        shared = table[table.notna().sum(axis=1) >= 2]
        values = np.unique(shared.to_numpy(dtype=float))
        values = values[~np.isnan(values)]
        note = ("only one rater so far: alpha compares two or more raters" if table.shape[1] < 2 else
                "no condition has been rated by two raters yet" if shared.empty else
                f"every rating of the conditions rated twice is {values[0]:g}: with no variation alpha is undefined"
                if len(values) < 2 else "")
        rows.append({"aspect": aspect, "alpha": math.nan if note else krippendorff_alpha(shared, level),
                     "units": len(shared), "raters": table.shape[1], "note": note})
    return pd.DataFrame(rows, columns=RATER_COLUMNS)


def spearman(x, y) -> tuple[float, float]:
    """Spearman's rho and p between an automatic score and expert ratings."""
    result = scipy_stats.spearmanr(x, y, nan_policy="omit")
    return float(result.statistic), float(result.pvalue)


def spearman_ci(x, y, level: float = 0.95) -> tuple[float, float, float, int]:
    """Spearman's rho, its confidence interval (Fisher z with Bonett and Wright's standard error,
    sqrt((1 + rho^2 / 2) / (n - 3))) and the number of complete pairs; NaNs where n < MIN_PAIRS or
    either side never varies (`caveat` says which)."""
    pairs = _pairs(x, y)
    n = len(pairs)
    if n < MIN_PAIRS or pairs["x"].nunique() < 2 or pairs["y"].nunique() < 2:
        return math.nan, math.nan, math.nan, n
    rho = float(scipy_stats.spearmanr(pairs["x"], pairs["y"]).statistic)
    half = scipy_stats.norm.ppf(0.5 + level / 2) * math.sqrt((1 + rho**2 / 2) / (n - 3))
    z = math.atanh(max(min(rho, 0.999999), -0.999999))
    return rho, math.tanh(z - half), math.tanh(z + half), n


def _pairs(x, y) -> pd.DataFrame:
    return pd.DataFrame({"x": list(x), "y": list(y)}).dropna()


def caveat(x, y, names: tuple[str, str] = ("x", "y"), level: float = 0.95) -> str:
    """Why Spearman's rho of `x` and `y` is blank, or says little, in words ('' when it stands):
    too few pairs, a side that never varies (`names` name the sides), or an interval so wide that
    any agreement from none to full fits it."""
    pairs = _pairs(x, y)
    if len(pairs) < MIN_PAIRS:
        return f"{len(pairs)} pair(s) with both values: rho and its interval need {MIN_PAIRS} or more"
    for column, name in zip(pairs, names):
        if pairs[column].nunique() < 2:
            return f"every {name} value is {pairs[column].iloc[0]:g}: rho is undefined when one side never varies"
    _, low, high, n = spearman_ci(pairs["x"], pairs["y"], level)
    if high - low > WIDE_INTERVAL:
        return f"only {n} pairs: the interval is too wide to tell how well they agree; more ratings narrow it"
    return ""


def agreement(table: pd.DataFrame, judges: Sequence[str], experts: Sequence[str] = ASPECTS) -> pd.DataFrame:
    """Spearman's rho with a 95% confidence interval for each judge against each expert rating,
    and for each pair of judges: how far the automatic judges can stand in for the experts, and
    for each other; a note says when a rho is blank or too uncertain to read."""
    pairs = [(j, e, "judge vs experts") for j in judges for e in experts]
    pairs += [(a, b, "judge vs judge") for a, b in itertools.combinations(judges, 2)]
    rows = []
    for judge, other, kind in pairs:
        rho, low, high, n = spearman_ci(table[judge], table[other])
        rows.append({"judge": judge, "compared_with": other, "comparison": kind, "rho": rho, "ci_low": low,
                     "ci_high": high, "n": n, "note": caveat(table[judge], table[other], (judge, other))})
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))


def agreement_plot(agreements: pd.DataFrame, out: Path) -> Path:
    """A heat map of rho between every judge and expert rating (symmetric; diagonal 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys([*agreements["judge"], *agreements["compared_with"]]))
    matrix = pd.DataFrame(np.where(np.eye(len(names)) == 1, 1.0, np.nan), index=names, columns=names)  # NaN: not computed
    for row in agreements.itertuples():
        matrix.loc[row.judge, row.compared_with] = matrix.loc[row.compared_with, row.judge] = row.rho
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 3, 1.0 * len(names) + 2))
    image = ax.imshow(matrix.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
        ax.text(j, i, "" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=8,
                color="white" if abs(value) > 0.6 else "black")
    ax.set_title("Agreement: Spearman's rho between judges and expert ratings", loc="left")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    path = out / "agreement.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plots(ratings: pd.DataFrame, summary: pd.DataFrame, matrices: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    categories = list(dict.fromkeys(ratings["category"]))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    for ax, aspect in zip(axes, ASPECTS):
        data = [ratings[(ratings.category == c) & (ratings.aspect == aspect)]["rating"] for c in categories]
        ax.boxplot(data, tick_labels=categories)
        ax.set_title(f"{aspect} ratings per category", loc="left")  # the page's buttons sit top right
        ax.set_ylabel("rating (0-4)")
        ax.set_ylim(-0.3, 4.3)
        ax.tick_params(axis="x", rotation=35)
    fig.tight_layout()
    paths.append(out / "boxplot.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.4
    for offset, aspect in ((-width / 2, "style"), (width / 2, "content")):
        rows = summary[summary.aspect == aspect].set_index("category").reindex(categories)
        ax.bar(np.arange(len(categories)) + offset, rows["median"], width, yerr=[rows["median"] - rows["q1"],
               rows["q3"] - rows["median"]], capsize=3, label=aspect)
    ax.set_xticks(np.arange(len(categories)), categories, rotation=35)
    ax.set_ylabel("median rating (bars: IQR)")
    ax.legend()
    fig.tight_layout()
    paths.append(out / "medians.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    for aspect, matrix in matrices.items():
        fig, ax = plt.subplots(figsize=(7, 6))
        image = ax.imshow(matrix.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis_r")
        ax.set_xticks(range(len(matrix)), matrix.columns, rotation=45, ha="right")
        ax.set_yticks(range(len(matrix)), matrix.index)
        for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
            if not np.isnan(value):
                ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=7,
                        color="white" if value < 0.5 else "black")
        ax.set_title(f"Pairwise Kruskal-Wallis p-values: {aspect}")
        fig.colorbar(image, ax=ax)
        fig.tight_layout()
        paths.append(out / f"kruskal_{aspect}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


@dataclass(frozen=True)
class Report:
    """What `report` wrote: every file, and the parts a page shows by themselves."""

    files: list[Path]
    summary: pd.DataFrame  # median and IQR per category and aspect (SUMMARY_COLUMNS)
    boxplot: Path  # ratings per category, one panel per aspect
    page: Path  # report.html
    raters: pd.DataFrame  # Krippendorff's alpha per aspect (RATER_COLUMNS); empty without observers


def report(ratings: pd.DataFrame, out: Path, observers: dict[str, pd.DataFrame] | None = None) -> Report:
    """Write the analysis of `ratings` to `out`: CSV tables, PNG plots and report.html. `observers`
    (per aspect, a units x raters table) add Krippendorff's alpha between raters."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(ratings)
    matrices = {aspect: pairwise_kruskal(ratings, aspect) for aspect in ASPECTS}
    tests = pd.DataFrame([{"aspect": a, "test": "Kruskal-Wallis across categories", "statistic": h, "p": p}
                          for a in ASPECTS for h, p in [kruskal_across(ratings, a)]])
    raters = rater_agreement(observers or {})
    tests = pd.concat([tests, pd.DataFrame({"aspect": raters["aspect"], "test": "Krippendorff's alpha (ordinal), raters",
                                            "statistic": raters["alpha"], "p": np.nan})], ignore_index=True)
    files = [out / "summary.csv", out / "tests.csv", out / "raters.csv"]
    for table, file in zip((summary, tests, raters), files):
        write_csv(table, file)
    for aspect in ASPECTS:
        files.append(out / f"kruskal_{aspect}.csv")
        write_csv(matrices[aspect].rename_axis("category").reset_index(), files[-1])
        files.append(out / f"mannwhitney_{aspect}.csv")
        write_csv(pairwise_mannwhitney(ratings, aspect), files[-1])
    plots = _plots(ratings, summary, matrices, out)
    page = out / "report.html"
    sections = [f"<h2>{html.escape(title)}</h2>{table.to_html(index=False, float_format=lambda v: f'{v:.4g}')}"
                for title, table in (("Median and IQR per category", summary), ("Tests", tests),
                                     ("Agreement between raters", raters))]
    sections += [f"<h2>Pairwise Kruskal-Wallis p-values: {a}</h2>{m.to_html(float_format=lambda v: f'{v:.4f}')}"
                 for a, m in matrices.items()]
    sections += [f'<img src="{p.name}" alt="{p.stem}" style="max-width:100%">' for p in plots]
    page.write_text("<!doctype html><meta charset='utf-8'><title>Rating report</title><h1>Rating report</h1>"
                    + "".join(sections), encoding="utf-8")
    return Report([*files, *plots, page], summary, plots[0], page, raters)
