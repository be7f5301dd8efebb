"""Patient subgroups as an axis: demographics.yaml checked on load, one column per subgroup with a
declared `subgroup` column, the largest gap between subgroups with its interval, and
`playground stats gaps` on a sweep drawn with the axis (tiny models, 2 steps)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from PIL import Image
from scipy import stats as scipy_stats

from playground import schema
from playground.catalog.curated import load_curated
from playground.catalog.demographics import load_demographics
from playground.catalog.templates import load_templates
from playground.cli import main
from playground.errors import PlaygroundError
from playground.gaps import gaps, welch_interval
from playground.judges.base import Context
from playground.models.runtime import offline_runtime
from playground.research.sweep import Study, load_study, units
from playground.types import GuidanceSetting
from playground.workflow.compare import generate_and_evaluate
from playground.workflow.form import CompareForm, table_of
from playground.workflow.subgroups import shown_gaps

FITZPATRICK = [f"fitzpatrick-{i}" for i in range(1, 7)]
TWO_STEPS = GuidanceSetting(7.5, 2)


def compare_fields(**changes: object) -> dict[str, object]:
    """The Compare tab's widget values for a skin photo of psoriasis, one image per cell, 2 steps."""
    fields = {"subject": "psoriasis", "template_1": "photo-short", "prompt_1": "", "template_2": "off",
              "images_per_cell": 1, "width": 64, "height": 64, "settings": table_of([TWO_STEPS]), "preset": None,
              "medical_scorer": "none", "domain_scorer": "none", "judge": "tiny-offline-vlm", "subgroups": True}
    return fields | changes


def scored(frame: pd.DataFrame) -> list[str]:
    """The judges' score columns that hold a score (the x-ray classifier scores no skin photo)."""
    return [name for name in schema.scores(frame) if frame[name].notna().any()]


def test_the_subgroup_axis_makes_one_column_per_subgroup_and_a_subgroup_column():
    runtime, templates = offline_runtime("test"), load_templates()
    comparison, judges = CompareForm.from_fields(compare_fields()).resolve(templates, runtime)
    frame = generate_and_evaluate(comparison, judges, Context(load_curated())).frame
    assert frame["column"].tolist() == list(range(6))
    assert frame["subgroup"].tolist() == FITZPATRICK
    assert frame["variant"].tolist() == [f"Fitzpatrick {n}" for n in ("I", "II", "III", "IV", "V", "VI")]
    assert frame.loc[4, "prompt"] == "A photo of psoriasis on Fitzpatrick type V skin (dark brown)"
    assert schema.undeclared(frame) == [] and "subgroup" in schema.of_step("generate")
    shown = shown_gaps(frame)  # what Compare shows under the grid: a row per judge, a column per subgroup
    assert shown["judge"].tolist() == scored(frame) and "vlm_score" in scored(frame)
    assert {"Fitzpatrick I", "Fitzpatrick VI", "gap", "gap_low", "gap_high"} <= set(shown.columns)
    assert shown["note"].str.contains("fewer than 2 images").all()  # one image per cell: a gap, no interval

    plain, _ = CompareForm.from_fields(compare_fields(subgroups=False)).resolve(templates, runtime)
    assert [c.subgroup for c in plain.columns] == [""] and shown_gaps(None).empty
    for changes, message in (({"template_1": "histopathology-short"}, "no patient subgroups for modality 'histopathology'"),
                             ({"template_1": "free", "prompt_1": "psoriasis"}, "no patient subgroups for a free prompt"),
                             ({"prompt_sr": "photo, picture"}, "leave Prompt S/R empty")):
        with pytest.raises(PlaygroundError, match=message):
            CompareForm.from_fields(compare_fields(**changes)).resolve(templates, runtime)


def test_the_shipped_subgroups_cover_skin_and_radiology_and_a_bad_file_is_refused_with_a_sentence(tmp_path):
    shipped = load_demographics()
    assert len(shipped.axis_of("photograph").subgroups) == 6
    assert {s.wording for s in shipped.axis_of("x-ray").subgroups} >= {"in a 75-year-old woman", "in an 8-year-old boy"}
    assert shipped.axis_of("ct") == shipped.axis_of("mri") == shipped.axis_of("x-ray")

    bad = tmp_path / "demographics.yaml"
    bad.write_text(
        "- id: skin\n  varies: skin type\n  modalities: [photograph]\n  subgroups:\n"
        "  - {id: light, label: light, wording: on light skin}\n  - {id: dark, label: dark, wording: on dark skin}\n"
        "- id: age\n  varies: age\n  modalities: [x-ray, photograph]\n  subgroups:\n"
        "  - {id: light, label: young, wording: in a child}\n  - {id: old, label: old, wording: in an old man}\n"
        "- id: sex\n  varies: sex\n  modalities: [ct]\n  subgroups:\n  - {id: woman, label: woman, wordng: in a woman}\n",
        encoding="utf-8")
    with pytest.raises(PlaygroundError) as refused:
        load_demographics(bad)
    said = str(refused.value).splitlines()
    assert said[0].startswith(f"{bad}:13: entry 'sex': field 'subgroups.0.wording': Field required")
    assert "field 'subgroups.0.wordng': Extra inputs are not permitted" in said[0]
    assert "field 'subgroups': Tuple should have at least 2 items" in said[0]
    assert said[1] == (f"{bad}: entry 'age': field 'modalities': 'photograph' already has the axis 'skin'; "
                       "a modality has one axis.")
    assert said[2] == (f"{bad}: entry 'age': field 'subgroups.id': 'light' is used by the axis 'skin' too; "
                       "each subgroup id is used once.")

    shipped_study = units(load_study("subgroups-quick"), load_templates())  # the README's example
    assert [len(unit.columns) for unit in shipped_study] == [6, 6]
    assert shipped_study[0].columns[4].prompt == "An x-ray image of pneumothorax in a 75-year-old woman"
    study = Study(name="tissue", subjects=["melanoma"], templates=["histopathology-short"], settings=[TWO_STEPS],
                  demographics=True)
    with pytest.raises(PlaygroundError, match="no patient subgroups for modality 'histopathology'"):
        units(study, load_templates())  # refused before anything is drawn


def test_the_largest_gap_is_the_highest_minus_the_lowest_subgroup_mean_with_a_welch_interval():
    scores = {"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0], "c": [3.0, 3.0, 3.0]}
    rows = [{"modality": "x-ray", "subgroup": name, "variant": name.upper(), "clip_prompt": value}
            for name, values in scores.items() for value in values]
    rows.append({"modality": "x-ray", "subgroup": "", "variant": "", "clip_prompt": 99.0})  # drawn without the axis
    table = gaps(pd.DataFrame(rows))
    assert table["subgroup"].tolist() == ["a", "b", "c"] and table["label"].tolist() == ["A", "B", "C"]
    assert table["n"].tolist() == [3, 3, 3] and table["mean"].tolist() == [2.0, 5.0, 3.0]
    first = table.iloc[0]
    assert (first["highest"], first["lowest"], first["gap"]) == ("b", "a", 3.0)
    # Welch: each variance 1 over 3 images, so se = sqrt(2/3) on 4 degrees of freedom
    half = scipy_stats.t.ppf(0.975, 4) * math.sqrt(2 / 3)
    assert first["gap_low"] == pytest.approx(3.0 - half) and first["gap_high"] == pytest.approx(3.0 + half)
    assert first["gap_low"] == pytest.approx(0.733, abs=1e-3)
    assert welch_interval([2.0, 2.0], [1.0, 1.0]) == (1.0, 1.0)
    assert all(math.isnan(end) for end in welch_interval([2.0], [1.0, 3.0]))

    alone = gaps(pd.DataFrame([*rows[:3], {"modality": "x-ray", "subgroup": "b", "variant": "B", "clip_prompt": 4.0}]))
    assert alone["note"].iloc[0] == "fewer than 2 images in b: no interval" and alone["gap"].iloc[0] == 2.0
    assert gaps(pd.DataFrame({"clip_prompt": [1.0]})).empty


def test_stats_gaps_on_a_sweep_with_the_axis_writes_a_table_and_a_plot_for_every_judge(tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text("name: subgroups\nmodel: tiny-offline\nscorer: tiny-offline-clip\nmedical_scorer: null\n"
                     "domain_scorer: null\njudge: tiny-offline-vlm\ndemographics: true\nsubjects: [psoriasis]\n"
                     "templates: [photo-short]\nsettings:\n- {guidance_scale: 7.5, steps: 2}\nseeds: 1\n",
                     encoding="utf-8")
    run = tmp_path / "run"
    assert main(["sweep", str(study), "--out", str(run)]) == 0
    results = pd.read_parquet(run / "results.parquet")
    assert results["subgroup"].tolist() == FITZPATRICK
    capsys.readouterr()
    assert main(["stats", "gaps", str(run)]) == 0
    assert "Wrote gaps.csv, gaps.png" in capsys.readouterr().out
    table = pd.read_csv(run / "gaps" / "gaps.csv")
    assert table["judge"].unique().tolist() == scored(results)  # every judge, each with its 6 subgroups
    assert {"clip_prompt", "clip_subject", "criteria_score", "vlm_score"} <= set(scored(results))
    assert table.groupby("judge")["subgroup"].nunique().eq(6).all()
    assert table["n"].eq(1).all() and table["gap"].notna().all()
    with Image.open(run / "gaps" / "gaps.png") as plot:
        assert plot.width > 600 and plot.height > 300
    assert main(["stats", "gaps", str(tmp_path / "nothing")]) == 1
    assert "There is no results table" in capsys.readouterr().err
