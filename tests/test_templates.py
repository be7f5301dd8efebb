"""The prompt library's template files: they load, validate and fill as documented."""

from pathlib import Path

import pytest

from playground.templates import fill, load_file, load_templates

STUDY_MODALITIES = {"microscopy", "histopathology", "x-ray", "mri", "ct", "photograph", "poster", "illustration"}


def test_library_has_every_study_style_in_short_and_detailed():
    templates = load_templates()
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


def test_unknown_field_is_named_with_the_file(tmp_path):
    path = write(tmp_path, "- {id: a, title: A, modality: x, text: 'A {subject}', colour: red}\n")
    with pytest.raises(ValueError) as error:
        load_file(path)
    assert "bad.yaml" in str(error.value) and "colour" in str(error.value)


def test_text_without_subject_slot_is_rejected(tmp_path):
    path = write(tmp_path, "- {id: a, title: A, modality: x, text: 'A photo'}\n")
    with pytest.raises(ValueError, match=r"field 'text'.*\{subject\}"):
        load_file(path)


def test_duplicate_ids_across_files_are_rejected(tmp_path):
    for name in ("one", "two"):
        (tmp_path / f"{name}.yaml").write_text("- {id: same, title: A, modality: x, text: 'A {subject}'}\n")
    with pytest.raises(ValueError, match="already defined"):
        load_templates(tmp_path)


def test_unknown_template_lists_known_ones():
    with pytest.raises(ValueError, match="photo-short"):
        load_templates()["no-such-template"]
