"""Hardening, round two: what an outside script sends, through gradio_client against the running app.

One test (or a few) per item: non-finite and huge numbers, imports held to a prefer's limits, long
search text, read-only and locked libraries, a blinded study that is blind, a paged Library view,
image files owned by their record, and Gradio's monitoring pages.
"""

import json
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from playground.config import get_settings
from playground.research.sweep import Study, sweep
from playground.stores.library import Library

from .test_hardening import refused, status
from .test_library import record
from .test_ui_api import SETTINGS, call_compare


def jsonl(tmp_path: Path, *records: dict, name: str = "import.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def import_file(client, path: Path) -> str:
    return client.predict(handle_file(str(path)), api_name="/library_import")


def library_view(client, **overrides):
    values = dict(text="", modality="", template_id="", model_id="", tag="", sort="votes", page=1, page_size=20)
    values.update(overrides)
    return client.predict(*values.values(), api_name="/library_view")


# 1. an imported NaN score never reaches the store
def test_a_nan_or_infinite_score_is_refused_with_its_line_and_the_library_keeps_working(client, tmp_path):
    for bad in ("NaN", "Infinity", "-Infinity"):
        path = tmp_path / "nan.jsonl"
        path.write_text(json.dumps(record(1)) + "\n" + json.dumps(record(2)).replace("}", f', "scores": {{"clip_prompt": {bad}}}}}') + "\n")
        with pytest.raises(AppError, match=r"nan\.jsonl line 2: .*score 'clip_prompt' must be a number"):
            import_file(client, path)
    library_view(client)  # the unfiltered view and the exports still work
    for fmt in ("csv", "jsonl", "parquet"):
        assert Path(client.predict(fmt, api_name="/library_export")).is_file()


def test_a_library_holding_nan_from_before_is_repaired_on_open(tmp_path):
    path = tmp_path / "old.sqlite"
    library = Library(path, tmp_path / "images")
    library.log(record(1), scores={"clip_prompt": 20.0})
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE records SET scores = '{\"clip_prompt\": NaN, \"clip_subject\": 12.5}'")
    db.execute("DELETE FROM _migrations WHERE name = 'm005_finite_scores'")
    db.close()
    frame = Library(path, tmp_path / "images").to_frame()
    assert frame.loc[0, "scores"] == {"clip_subject": 12.5}


# 2. imports obey a prefer's limits, line by line
@pytest.mark.parametrize(
    ("change", "rule"),
    [({"prompt": "x" * 3_000_000}, "prompt has 3,000,000 characters; the limit is 2,000"),
     ({"subject": "y" * 1_000_000}, "subject has 1,000,000 characters"),
     ({"tags": [f"t{i}" for i in range(200_000)]}, "tags must be a list of at most 50 texts"),
     ({"tags": "teaching"}, "tags must be a list"),
     ({"tags": [["nested"]]}, "a tag must be text"),
     ({"prompt": 42}, "prompt must be text"),
     ({"votes": 10**30}, "votes must be a whole number between 1 and"),
     ({"votes": -3}, "votes must be a whole number"),
     ({"seed": 2**40}, "seed must be a whole number between 0 and 4,294,967,295"),
     ({"steps": 1e308}, "steps must be a whole number between 1 and 100"),
     ({"guidance_scale": "inf"}, "guidance_scale must be a number between 0 and 50"),
     ({"width": 10**9}, "width must be a whole number between 8 and 1,024"),
     ({"scores": [1, 2]}, "scores must be an object")],
)
def test_an_import_line_breaking_a_rule_is_refused_with_file_line_and_rule(client, tmp_path, change, rule):
    before = len(Library().to_frame())
    path = jsonl(tmp_path, record(1, note="fine"), {**record(2), **change}, name="big.jsonl")
    with pytest.raises(AppError) as error:
        import_file(client, path)
    assert "big.jsonl line 2: " in str(error.value) and rule in str(error.value)
    assert len(Library().to_frame()) == before  # nothing of the file was written


# 3. every number from outside is range-checked, with a sentence
@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"settings": {**SETTINGS, "data": [[4.0, "inf", "default", ""]]}}, "steps must be a whole number, got inf"),
     ({"settings": {**SETTINGS, "data": [[4.0, "-Infinity", "default", ""]]}}, "steps must be a whole number"),
     ({"settings": {**SETTINGS, "data": [[4.0, 1e300, "default", ""]]}}, "steps must be between 1 and 100"),
     ({"seed": 1e300}, "Seeds must lie in 0..4294967295"), ({"width": 1e300}, "`width` must be a multiple of 8")],
)
def test_non_finite_and_huge_numbers_in_a_comparison_get_a_sentence(client, overrides, message):
    text = refused(client, message, **overrides)
    assert "Something went wrong" not in text


@pytest.mark.parametrize("record_id", [2**63, 10**30, 10**400, -1, 0])
def test_record_ids_beyond_sqlite_get_a_sentence(client, record_id):
    for api_name in ("/library_upvote", "/library_open"):
        with pytest.raises(AppError, match="The record number must be a whole number between 1 and"):
            client.predict(record_id, api_name=api_name)


def test_an_unknown_record_is_named(client):
    with pytest.raises(AppError, match="There is no library record #999999"):
        client.predict(999999, api_name="/library_upvote")


@pytest.mark.parametrize(("number", "message"), [(1e300, "The image number must be"), (-1, "The image number must be"),
                                                (0, "Select an image first")])
def test_prefer_image_numbers_out_of_range_get_a_sentence(client, number, message):
    call_compare(client, images_per_cell=1, settings={**SETTINGS, "data": [[4.0, 2, "default", ""]]})
    with pytest.raises(AppError, match=message):
        client.predict(image=number, note="", api_name="/prefer")


# 4. search text has a length limit
def test_very_long_search_text_is_refused_with_a_sentence(client):
    with pytest.raises(AppError, match="The search text has 100,000 characters; the limit is 2,000"):
        library_view(client, text="x" * 100_000)
    with pytest.raises(AppError, match="The tag filter has"):
        library_view(client, tag="t" * 100_000)
    library_view(client, text="x" * 2_000)


# 5. a read-only or locked library: every write path says the same sentence
@pytest.fixture
def locked_library(client, monkeypatch):
    call_compare(client, images_per_cell=1, settings={**SETTINGS, "data": [[4.0, 2, "default", ""]]})
    first = client.predict(image=1, note="", api_name="/prefer")
    record_id = int(first.split("#")[1].split()[0])
    monkeypatch.setenv("PLAYGROUND_LIBRARY_TIMEOUT", "0.2")
    blocker = sqlite3.connect(get_settings().library_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    yield record_id
    blocker.execute("ROLLBACK")
    blocker.close()


def test_upvote_and_import_on_a_locked_library_say_nothing_was_saved(client, locked_library, tmp_path):
    with pytest.raises(AppError, match=r"The vote was not saved: .* could not be written"):
        client.predict(locked_library, api_name="/library_upvote")
    with pytest.raises(AppError, match=r"The import was not saved: .* could not be written"):
        import_file(client, jsonl(tmp_path, record(77)))


def test_a_failed_prefer_leaves_no_orphan_png(client, locked_library):
    images = get_settings().library_images_dir
    before = set(images.glob("*.png"))
    with pytest.raises(AppError, match="The record was not saved"):
        client.predict(image=2, note="", api_name="/prefer")
    assert set(images.glob("*.png")) == before


def test_an_unwritable_library_says_nothing_was_saved_for_every_write(client, monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("PLAYGROUND_LIBRARY", str(tmp_path / "a-file" / "library.sqlite"))
    with pytest.raises(AppError, match="The vote was not saved"):
        client.predict(1, api_name="/library_upvote")
    with pytest.raises(AppError, match="The import was not saved"):
        import_file(client, jsonl(tmp_path, record(78)))


# 6. the blinded study is blind
@pytest.fixture(scope="module")
def rated_run() -> Path:
    study = Study(name="blind", subjects=["melanoma"], templates=["photo-short", "histopathology-short"],
                  settings=[{"guidance_scale": 7.5, "steps": 2}], seeds=2)
    out = get_settings().runs_dir / "blind"
    sweep(study, out)
    return out


def test_raters_get_copies_without_metadata_under_opaque_names(client, app_url, rated_run):
    header, gallery, _, key, _ = client.predict("blind", 0, "erin", api_name="/study_start")  # the condition stays in session state
    items = gallery["value"] if isinstance(gallery, dict) else gallery
    assert "Condition 1 of 2" in header and len(items) == 2
    originals = {p.name for p in (rated_run / "images").glob("*.png")}
    for item in items:
        served = Path(item["image"])
        name = Path(item["image"]).name
        assert name not in originals and not any(part in name for part in ("-r1-", "-c1-", "-s0"))
        with Image.open(served) as image:
            assert not getattr(image, "text", {}) and "parameters" not in image.info
    client.predict(run="blind", seed=0, rater="erin", rater_key=key, style=3, content=2, best=0, api_name="/study_rate")
    ratings = sqlite3.connect(rated_run / "ratings.sqlite").execute("SELECT shown, best_image FROM ratings").fetchall()
    assert all(name in originals for name in ratings[0][0].split(",")) and ratings[0][1] in originals


def test_study_tables_and_rating_databases_are_never_served(client, app_url, rated_run):
    client.predict("blind", 0, "frank", api_name="/study_start")
    base = app_url.rstrip("/")
    for name in ("results.csv", "results.parquet", "ratings.sqlite", ".blind-key", "images"):
        for route in ("/gradio_api/file=", "/file="):
            assert status(f"{base}{route}{rated_run / name}") in (403, 404), name
    image = next((rated_run / "images").glob("*.png"))
    assert status(f"{base}/gradio_api/file={image}") in (403, 404)


# 7. the Library view is paged
def test_the_library_view_is_paged(client, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_LIBRARY", str(tmp_path / "big.sqlite"))
    Library().import_jsonl(jsonl(tmp_path, *(record(i, note="paged") for i in range(130))))
    _, table, page, where = library_view(client, page_size=50)
    assert len(table["data"]) == 50 and page == 1 and where == "Page 1 of 3 · 130 records"
    _, table, page, where = library_view(client, page=3, page_size=50)
    assert len(table["data"]) == 30 and where.startswith("Page 3 of 3")
    _, table, page, _ = library_view(client, page=99, page_size=50)
    assert page == 3 and len(table["data"]) == 30  # past the end: the last page
    with pytest.raises(AppError, match="50000 is not in the list of choices"):  # Gradio checks the dropdown
        library_view(client, page_size=50_000)
    with pytest.raises(ValueError, match="The page size must be a whole number between 1 and 100"):
        Library().page(1, 50_000)
    with pytest.raises(AppError, match="The page number must be a whole number"):
        library_view(client, page=1e300)


def test_the_command_line_lists_one_page(tmp_path, monkeypatch, capsys):
    from playground.cli import main

    monkeypatch.setenv("PLAYGROUND_LIBRARY", str(tmp_path / "cli.sqlite"))
    Library().import_jsonl(jsonl(tmp_path, *(record(i) for i in range(45))))
    assert main(["library", "list", "--limit", "20", "--page", "3", "--sort", "oldest"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 + 5 + 1 and out[-1] == "Page 3 of 3 · 45 records"


# 8. an image file belongs only to the record whose content hash names it
def test_an_imported_record_cannot_take_another_records_image(client, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_LIBRARY", str(tmp_path / "own.sqlite"))
    library = Library()
    library.log(record(1), Image.new("RGB", (64, 64), (200, 30, 30)))
    victim = library.to_frame().iloc[0]["image_file"]
    own = library.export(tmp_path / "own.jsonl")
    import_file(client, jsonl(tmp_path, {**record(2), "image_file": victim}, {**record(3), "image_file": "x.png"}))
    frame = Library().to_frame(sort="oldest")
    assert frame["image_file"].tolist() == [victim, "", ""]
    copy = Library(tmp_path / "copy.sqlite", tmp_path / "images")
    copy.import_jsonl(own)  # a record's own image name survives its export and import
    assert copy.to_frame()["image_file"].tolist() == [victim]


# 9. Gradio's monitoring pages are not public
def test_monitoring_is_off_on_a_public_space(app_url):
    base = app_url.rstrip("/")
    for route in ("/monitoring", "/monitoring/summary", "/gradio_api/monitoring", "/gradio_api/monitoring/summary"):
        assert status(f"{base}{route}") in (403, 404), route
    still = urllib.request.urlopen(f"{base}/config", timeout=10)
    assert still.status == 200
