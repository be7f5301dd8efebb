"""Statistics on hand-made data with known answers, and the report on the original study's ratings."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from playground import stats
from playground.cli import main
from playground.config import get_settings

HAND = pd.DataFrame(
    [("s1", "a", "style", v) for v in (0, 1, 2, 3, 4)] + [("s2", "b", "style", v) for v in (3, 4, 4, 4, 4)]
    + [("s3", "c", "style", v) for v in (0, 0, 0, 1, 1)],
    columns=["subject", "category", "aspect", "rating"],
)


def test_median_and_iqr():
    table = stats.summarize(HAND).set_index("category")
    assert table.loc["a", ["n", "median", "q1", "q3", "iqr"]].tolist() == [5, 2.0, 1.0, 3.0, 2.0]
    assert table.loc["b", ["median", "iqr"]].tolist() == [4.0, 0.0]


def test_kruskal_across_and_pairwise_match_scipy():
    h, p = stats.kruskal_across(HAND, "style")
    expected = scipy_stats.kruskal([0, 1, 2, 3, 4], [3, 4, 4, 4, 4], [0, 0, 0, 1, 1])
    assert (h, p) == pytest.approx((expected.statistic, expected.pvalue))
    matrix = stats.pairwise_kruskal(HAND, "style")
    assert matrix.loc["a", "b"] == matrix.loc["b", "a"] == pytest.approx(
        scipy_stats.kruskal([0, 1, 2, 3, 4], [3, 4, 4, 4, 4]).pvalue)
    assert math.isnan(matrix.loc["a", "a"])
    same = HAND.assign(rating=1)
    assert stats.pairwise_kruskal(same, "style").loc["a", "b"] == 1.0  # identical ratings: no difference


def test_holm_adjustment_known_values():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_mann_whitney_with_holm():
    table = stats.pairwise_mannwhitney(HAND, "style")
    assert list(zip(table["a"], table["b"])) == [("a", "b"), ("a", "c"), ("b", "c")]
    raw = scipy_stats.mannwhitneyu([3, 4, 4, 4, 4], [0, 0, 0, 1, 1], alternative="two-sided")
    row = table[(table.a == "b") & (table.b == "c")].iloc[0]
    assert row["U"] == raw.statistic == 25.0 and row["p"] == pytest.approx(raw.pvalue)
    assert (table["p_holm"] >= table["p"]).all()


def test_krippendorff_alpha_and_spearman_known_values():
    agree = pd.DataFrame({"r1": [0, 1, 2, 3, 4], "r2": [0, 1, 2, 3, 4]})
    assert stats.krippendorff_alpha(agree) == pytest.approx(1.0)
    reversed_ = pd.DataFrame({"r1": [0, 1, 2, 3, 4], "r2": [4, 3, 2, 1, 0]})
    assert stats.krippendorff_alpha(reversed_) < 0
    rho, _ = stats.spearman([10, 20, 30, 40], [1, 2, 3, 5])
    assert rho == pytest.approx(1.0)


def test_report_on_the_original_study(tmp_path):
    original = get_settings().original_study
    assert main(["stats", "report", str(original), "--out", str(tmp_path)]) == 0
    summary = pd.read_csv(tmp_path / "summary.csv").set_index(["category", "aspect"])
    assert len(summary) == 16 and (summary["n"] == 34).all()
    wide = pd.read_excel(original, sheet_name="matrix_nonsensical_as_zero")
    assert summary.loc[("histopathology", "style"), "median"] == wide["histopath style"].median()
    assert summary.loc[("mri", "content"), "iqr"] == (
        wide["MR image content"].quantile(0.75) - wide["MR image content"].quantile(0.25))
    matrix = pd.read_csv(tmp_path / "kruskal_style.csv", index_col=0)
    assert matrix.shape == (8, 8) and np.allclose(matrix.to_numpy(), matrix.to_numpy().T, equal_nan=True)
    assert matrix.loc["mri", "histopathology"] < 0.001  # the study's point: radiology far below histology
    for name in ("report.html", "boxplot.png", "medians.png", "kruskal_style.png", "kruskal_content.png"):
        assert (tmp_path / name).stat().st_size > 1000
    tests = pd.read_csv(tmp_path / "tests.csv")
    alpha = tests[tests.test.str.startswith("Krippendorff")]["statistic"]
    assert len(alpha) == 2 and alpha.between(-1, 1).all()


def test_judge_agreement_gives_rho_with_a_confidence_interval_for_every_pair():
    table = pd.DataFrame({"clip": [1, 2, 3, 4, 5, 6, 7, 8], "judge": [2, 1, 4, 3, 6, 5, 8, 7],
                          "style": [0, 1, 1, 2, 2, 3, 4, 4], "content": [4, 3, 3, 2, 2, 1, 0, 0]})
    agreements = stats.agreement(table, ["clip", "judge"])
    assert list(agreements.columns) == list(stats.AGREEMENT_COLUMNS)
    assert list(zip(agreements["judge"], agreements["compared_with"], agreements["comparison"])) == [
        ("clip", "style", "judge vs experts"), ("clip", "content", "judge vs experts"),
        ("judge", "style", "judge vs experts"), ("judge", "content", "judge vs experts"),
        ("clip", "judge", "judge vs judge")]
    first = agreements.iloc[0]
    assert first["rho"] == pytest.approx(stats.spearman(table["clip"], table["style"])[0])
    assert first["ci_low"] < first["rho"] < first["ci_high"] <= 1 and first["n"] == 8
    assert agreements.iloc[1]["rho"] < -0.9 and agreements.iloc[4]["rho"] == pytest.approx(0.904762, abs=1e-5)
    rho, low, _, n = stats.spearman_ci([1, 2, 3], [3, 2, 1])
    assert n == 3 and math.isnan(rho) and math.isnan(low)  # too few pairs: NaN, not a number pretending to be one


def test_a_blank_or_uncertain_rho_says_why_in_words():
    few = stats.agreement(pd.DataFrame({"clip": [1, 2, 3], "style": [0, 2, 4]}), ["clip"], ["style"]).iloc[0]
    assert math.isnan(few["rho"]) and few["note"] == "3 pair(s) with both values: rho and its interval need 4 or more"
    constant = stats.agreement(pd.DataFrame({"clip": [1, 2, 3, 4, 5], "style": [3, 3, 3, 3, 3]}), ["clip"], ["style"])
    assert math.isnan(constant.iloc[0]["rho"])
    assert constant.iloc[0]["note"] == "every style value is 3: rho is undefined when one side never varies"
    four = stats.agreement(pd.DataFrame({"clip": [1, 2, 3, 4], "style": [0, 2, 1, 4]}), ["clip"], ["style"]).iloc[0]
    assert four["ci_high"] - four["ci_low"] > 1.5  # n = 4: the interval spans nearly all of -1..1 ...
    assert four["note"].startswith("only 4 pairs: the interval is too wide")  # ... and the table says so
    many = np.arange(40)
    plenty = stats.agreement(pd.DataFrame({"clip": many, "style": many % 5 + many // 8}), ["clip"], ["style"]).iloc[0]
    assert plenty["note"] == "" and plenty["ci_high"] - plenty["ci_low"] < stats.WIDE_INTERVAL


def test_krippendorff_alpha_between_two_raters_and_why_it_is_missing():
    two = pd.DataFrame({"r1": [0, 1, 2, 3, np.nan], "r2": [1, 1, 2, 4, 2]})
    table = stats.rater_agreement({"style": two, "content": two[["r1"]],
                                   "alone": pd.DataFrame({"r1": [1, np.nan], "r2": [np.nan, 2]}),
                                   "flat": pd.DataFrame({"r1": [3, 3], "r2": [3, 3]})}).set_index("aspect")
    assert table.loc["style", "alpha"] == pytest.approx(stats.krippendorff_alpha(two.dropna()))
    assert 0 < table.loc["style", "alpha"] < 1 and table.loc["style", ["units", "raters", "note"]].tolist() == [4, 2, ""]
    assert table.loc["content", "note"] == "only one rater so far: alpha compares two or more raters"
    assert table.loc["alone", "note"] == "no condition has been rated by two raters yet"
    assert table.loc["flat", "note"].startswith("every rating of the conditions rated twice is 3")
    assert table.drop(index="style")["alpha"].isna().all()
