"""Judge any image: `playground judge` and `/judge` on the app's own PNGs, a JPEG and a grey PNG,
one row per image with every judge's declared columns; images read within the limits."""

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gradio_client import handle_file
from PIL import Image

from playground import GuidanceSetting, compare, schema
from playground.cli import main
from playground.config import get_settings
from playground.errors import PlaygroundError
from playground.judges.base import AUTO, Judges, builders
from playground.render.export import PNG_SIGNATURE
from playground.workflow.judge_files import ImageFile, collect, judge_files, read_image

SUBJECT = "cardiomegaly"


def noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> pd.DataFrame:
    """Two of the app's own PNGs (an x-ray and a photo, each with its parameters), as Compare saves them."""
    saved = compare(SUBJECT, ["xray-short", "photo-short"], [GuidanceSetting(4, steps=2)], images_per_cell=1,
                    folder=tmp_path_factory.mktemp("grid"))
    return saved.frame


@pytest.fixture(scope="module")
def folder(drawn, tmp_path_factory) -> Path:
    """The app's PNGs, a JPEG, a grey PNG, and a file that is no image."""
    folder = tmp_path_factory.mktemp("images")
    for path in drawn["image_path"]:
        shutil.copy(path, folder)
    Image.fromarray(noise((48, 64, 3), 1)).save(folder / "photo.jpg", quality=90)
    Image.fromarray(noise((64, 64), 2)).save(folder / "grey.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def panel() -> Judges:
    """The panel `playground judge` runs by default: every judge, each at its offline default."""
    settings = get_settings()
    return Judges(settings.scorer, settings.medical_scorer, AUTO, settings.judge)


def declared_png(path: Path, width: int, height: int) -> Path:
    """A small PNG whose header declares width x height pixels (its data is a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_judging_a_folder_writes_one_row_per_image_with_every_judges_columns(folder, drawn, tmp_path, capsys):
    out = tmp_path / "results.csv"
    assert main(["judge", str(folder), "--subject", SUBJECT, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Judged 4 images" in said
    assert f"Skipped: '{folder / 'notes.txt'}' is not a PNG, JPEG or WebP image" in said

    table = pd.read_csv(out)
    names = sorted(str(folder / n) for n in ["grey.png", "photo.jpg", *(Path(p).name for p in drawn["image_path"])])
    assert table["file"].tolist() == names  # one row per image, in file order
    judges = panel().judges
    assert {j.id for j in judges} == set(builders())  # every judge ran
    for judge in judges:
        assert set(schema.of_step(judge.id)) <= set(table.columns), judge.id
    assert set(schema.of_step("generate")) <= set(table.columns) and schema.undeclared(table) == []

    by_file = table.set_index(table["file"].map(lambda f: Path(f).name))
    for row in drawn.itertuples():  # the app's PNGs: their own prompt and template, from their parameters
        own = by_file.loc[Path(row.image_path).name]
        assert (own["prompt"], own["template_id"], own["modality"]) == (row.prompt, row.template_id, row.modality)
    assert by_file.loc[["photo.jpg", "grey.png"], "prompt"].tolist() == [SUBJECT, SUBJECT]  # else the subject
    assert by_file.loc["grey.png", "template_id"] == "free" and by_file.loc["grey.png", "width"] == 64
    xray = by_file.loc[Path(drawn.loc[drawn["modality"] == "x-ray", "image_path"].item()).name]
    assert xray["finding"] == "Cardiomegaly" and 0 <= xray["finding_score"] <= 1  # the x-ray classifier looked
    assert table["clip_prompt"].between(0, 100).all()
    kinds = table["modality"].fillna("") != ""
    assert table.loc[kinds, "vlm_score"].between(0, 1).all()
    assert table.loc[~kinds, "vlm_score"].isna().all()  # an image of no known kind has no checklist
    assert all("p_yes" in answer for cell in table.loc[kinds, "vlm_checklist"] for answer in json.loads(cell))  # JSON


def test_a_template_names_the_kind_of_image_and_parquet_keeps_checklists_structured(folder, drawn, tmp_path):
    out = tmp_path / "results.parquet"
    app_png = drawn.loc[drawn["modality"] == "photograph", "image_path"].item()
    paths = [str(folder / "grey.png"), str(folder / "photo.jpg"), app_png]
    assert main(["judge", *paths, "--subject", SUBJECT, "--template", "xray-short", "--judge", "none",
                 "--out", str(out)]) == 0
    table = pd.read_parquet(out)
    assert table["file"].tolist() == paths
    filled = "An x-ray image of cardiomegaly"
    assert table["prompt"].tolist() == [filled, filled, drawn.loc[drawn["modality"] == "photograph", "prompt"].item()]
    assert (table["modality"] == "x-ray").all() and (table["finding"] == "Cardiomegaly").all()
    assert table["finding_score"].between(0, 1).all()  # the grey PNG and the JPEG as x-rays
    assert "vlm_score" not in table  # --judge none: no checklist judge, so none of its columns
    assert {"id", "label", "p", "passed"} <= set(table["criteria"].iloc[0][0])
    with_prompt = judge_files([ImageFile(Path(app_png), "app.png")], SUBJECT, panel(), prompt="A chest radiograph")
    assert with_prompt.frame.loc[0, "prompt"] == "A chest radiograph"  # the prompt given comes first


def test_grey_stays_grey_and_every_other_mode_becomes_rgb(folder, tmp_path):
    grey, kind = read_image(folder / "grey.png")
    assert (grey.mode, kind) == ("L", "PNG")
    assert np.array_equal(np.asarray(grey), noise((64, 64), 2))  # the pixels as they are
    wide = (np.arange(64 * 64).reshape(64, 64) * 3 + 1000).astype(np.uint16)  # a 16-bit x-ray's range
    Image.fromarray(wide).save(tmp_path / "wide.png")
    stretched, _ = read_image(tmp_path / "wide.png")
    assert stretched.mode == "L" and np.asarray(stretched).min() == 0 and np.asarray(stretched).max() == 255
    Image.fromarray(noise((8, 8, 4), 3), "RGBA").save(tmp_path / "alpha.webp", lossless=True)
    assert read_image(tmp_path / "alpha.webp")[0].mode == "RGB"
    shutil.copy(folder / "photo.jpg", tmp_path / "named.png")  # a JPEG under a PNG's name: told by content
    assert read_image(tmp_path / "named.png")[1] == "JPEG"


def test_an_image_over_a_limit_is_a_sentence_and_the_others_are_judged(folder, tmp_path, monkeypatch, capsys):
    too_many = declared_png(tmp_path / "huge.png", 9000, 9000)
    bomb = declared_png(tmp_path / "bomb.png", 20000, 20000)  # past Pillow's own limit too
    Image.fromarray(noise((1024, 1024, 3), 4)).save(tmp_path / "heavy.png")  # about 3 MB
    monkeypatch.setenv("PLAYGROUND_MAX_UPLOAD_MB", "1")
    files = collect([too_many, bomb, tmp_path / "heavy.png", folder / "photo.jpg"])
    judged = judge_files(files, SUBJECT, panel())
    assert judged.frame["file"].tolist() == [str(folder / "photo.jpg")]
    assert judged.skipped == [
        f"'{too_many}' is 9,000 x 9,000 pixels; the limit is 67,108,864 pixels (8192 x 8192).",
        f"'{bomb}' has more than 67,108,864 pixels, the limit (8192 x 8192); it was not decoded.",
        f"'{tmp_path / 'heavy.png'}' is {(tmp_path / 'heavy.png').stat().st_size / 2**20:.1f} MB; the limit is 1 MB "
        "(PLAYGROUND_MAX_UPLOAD_MB).",
    ]
    assert main(["judge", str(too_many), "--subject", SUBJECT, "--out", str(tmp_path / "none.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: No image could be judged: '") and err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(PlaygroundError, match="There is no file or folder"):
        collect([tmp_path / "missing.png"])
    for args, message in ((["--subject", " "], "The subject is empty"),
                          (["--subject", SUBJECT, "--template", "nope"], "Unknown template 'nope'")):
        assert main(["judge", str(folder), *args, "--out", str(tmp_path / "x.csv")]) == 1
        assert message in capsys.readouterr().err
    assert main(["judge", str(folder), "--subject", SUBJECT, "--out", str(tmp_path / "x.xlsx")]) == 1
    assert "must end in .csv or .parquet" in capsys.readouterr().err


def test_the_judge_endpoint_judges_uploads_as_the_tab_shows_them(client, folder, drawn, tmp_path):
    uploads = [folder / "photo.jpg", folder / "grey.png", Path(drawn["image_path"].iloc[0])]
    huge = declared_png(tmp_path / "huge.png", 9000, 9000)
    status, grid, table, csv = client.predict(files=[handle_file(str(p)) for p in [*uploads, huge]], subject=SUBJECT,
                                              api_name="/judge")
    assert status.startswith("Judged 3 images")
    assert "skipped: 'huge.png' is 9,000 x 9,000 pixels; the limit is" in status
    assert grid.count("<figcaption>") == 3 and "CLIP " in grid  # the grid's badges, an enlarged view each
    assert table["headers"][:2] == ["image", "file"] and len(table["data"]) == 3
    written = pd.read_csv(csv)
    assert written["file"].tolist() == [p.name for p in uploads]  # an upload's own name, not a server path
    assert "image_path" not in written and "model_id" not in table["headers"]  # nor where the app keeps its copies
    assert written["prompt"].tolist() == [SUBJECT, SUBJECT, drawn["prompt"].iloc[0]]
    with pytest.raises(Exception, match="The subject is empty"):
        client.predict(files=[handle_file(str(uploads[0]))], subject="", api_name="/judge")
