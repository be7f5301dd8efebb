"""A judge defined outside the package joins every comparison: one class and one registration."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from playground import GuidanceSetting, ResultColumn, compare, register_judge, schema
from playground.judges.base import unregister


class Contrast:
    """The standard deviation of each image's grey levels, on 0-1: a judge a person might add."""

    id = "contrast"

    def __call__(self, frame, images, context):
        return frame.assign(contrast=[float(np.asarray(im.convert("L"), dtype=float).std() / 255) for im in images])


@pytest.fixture
def contrast(monkeypatch):
    register_judge("contrast", lambda judges: Contrast(),
                   ResultColumn("contrast", "grey-level standard deviation, 0-1", "float", "contrast", True, "contrast",
                                (0.0, 1.0)))
    monkeypatch.setenv("PLAYGROUND_TEST_PLUGIN", "contrast")  # a fresh GPU worker, forked after the registration
    yield
    unregister("contrast")


def test_a_registered_judge_adds_its_column_to_the_frame_the_table_and_the_csv(contrast, client, tmp_path):
    result = compare("melanoma", ["photo-short"], [GuidanceSetting(4.0, 2)], images_per_cell=2, folder=tmp_path)
    assert result.frame["contrast"].between(0, 1).all() and "contrast" in schema.scores(result.frame)
    with zipfile.ZipFile(result.zip_path) as archive:
        assert pd.read_csv(io.BytesIO(archive.read("results.csv")))["contrast"].tolist() == pytest.approx(
            result.frame["contrast"].tolist())

    _, _, _, table, zip_path, *_ = client.predict(subject="melanoma", api_name="/compare")
    assert "contrast" in table["headers"]
    with zipfile.ZipFile(zip_path) as archive:
        assert pd.read_csv(io.BytesIO(archive.read("results.csv")))["contrast"].between(0, 1).all()


def test_an_unregistered_judge_is_gone(contrast):
    unregister("contrast")
    assert "contrast" not in schema.COLUMNS
    result = compare("melanoma", ["photo-short"], [GuidanceSetting(4.0, 2)], images_per_cell=1)
    assert "contrast" not in result.frame
