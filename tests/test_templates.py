"""The prompt library's template files: they load, validate and fill as documented."""

import re
from pathlib import Path

import pytest

from playground.catalog.datafiles import load_entries
from playground.catalog.templates import Template, fill, load_templates

STUDY_MODALITIES = {"microscopy", "histopathology", "x-ray", "mri", "ct", "photograph", "poster", "illustration"}


def test_library_has_every_study_style_in_short_and_detailed():
    templates = load_templates(strict=True)
    pairs = {(t.modality, t.variant) for t in templates}
    assert pairs == {(m, v) for m in STUDY_MODALITIES for v in ("short", "detailed")}
    assert templates["histopathology-short"].fill("the brain") == "A histopathological image of the brain"


def test_fill_names_every_missing_slot():
    with pytest.raises(ValueError) as error:
        fill("A {style} image of {subject} in {organ}", subject="melanoma")
    assert "{style}" in str(error.value) and "{organ}" in str(error.value)
    assert "{subject}" not in str(error.value).split("needs a value for")[1].split(";")[0]


def test_fill_rejects_blank_subject_and_keeps_braces_in_values():
    with pytest.raises(ValueError, match=r"\{subject\}"):
        fill("A photo of {subject}", subject="   ")
    assert fill("A photo of {subject}", subject="{x}") == "A photo of {x}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = "- {id: good, title: A, modality: x, text: 'A {subject}'}\n"


def test_a_bad_entry_is_named_by_file_line_and_field_and_skipped(tmp_path):
    path = write(tmp_path, GOOD + "- {id: a, title: A, modality: x, text: 'A {subject}', colour: red}\n")
    entries, problems = load_entries(path, Template)
    assert [t.id for t in entries] == ["good"]
    assert len(problems) == 1 and problems[0].startswith(f"{path}:2:") and "colour" in problems[0]


def test_text_without_subject_slot_is_rejected(tmp_path):
    path = write(tmp_path, "- id: a\n  title: A\n  modality: x\n  text: A photo\n")
    _, problems = load_entries(path, Template)
    assert re.search(r"bad.yaml:1: .*field 'text'.*\{subject\}", problems[0])


def test_a_broken_file_is_skipped_and_the_others_load(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "broken.yaml").write_text("- {id: b, title: [unclosed\n")
    templates = load_templates(tmp_path)
    assert templates.ids() == ["good"]
    assert any("broken.yaml:" in p and "not valid YAML" in p for p in templates.problems)
    with pytest.raises(ValueError, match="broken.yaml"):
        load_templates(tmp_path, strict=True)


def test_duplicate_ids_across_files_are_reported(tmp_path):
    for name in ("one", "two"):
        (tmp_path / f"{name}.yaml").write_text(GOOD)
    assert any("defined twice" in p for p in load_templates(tmp_path).problems)


def test_unknown_template_lists_known_ones():
    with pytest.raises(ValueError, match="photo-short"):
        load_templates()["no-such-template"]
