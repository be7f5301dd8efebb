"""The disk cache of generated images: identical inputs give the identical image without drawing
it again; any changed input draws anew; the least recently used images go first."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from playground import Column, Comparison, GuidanceSetting, run
from playground.engine.generate import stream
from playground.engine.image_cache import ImageCache, cache_key

BASE = Comparison("melanoma", [Column("A dermoscopic photo of melanoma")], [GuidanceSetting(4.0, 2)],
                  images_per_cell=1, base_seed=7, model_id="tiny-offline")


@pytest.fixture
def cache_on(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_IMAGE_CACHE_MB", "64")
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "cache" / "images"


def test_identical_inputs_give_the_identical_image_from_the_cache(cache_on):
    first, second = run(BASE), run(BASE)
    assert first.frame["from_cache"].tolist() == [False] and second.frame["from_cache"].tolist() == [True]
    assert np.array_equal(np.asarray(first.images[0]), np.asarray(second.images[0]))
    assert second.frame["seconds"][0] == 0 and len(list(cache_on.glob("*/*.png"))) == 1


@pytest.mark.parametrize("change", [
    {"base_seed": 8},
    {"columns": [Column("A dermoscopic photo of a melanoma")]},
    {"settings": [GuidanceSetting(4.0, 3)]},
    {"settings": [GuidanceSetting(4.0, 2, "Euler a")]},
    {"settings": [GuidanceSetting(5.0, 2)]},
    {"settings": [GuidanceSetting(4.0, 2, negative_prompt="blurry")]},
    {"width": 72},
    {"model_id": "tiny-offline-sdxl"},
])
def test_any_changed_input_draws_a_new_image(cache_on, change):
    run(BASE)
    changed = run(replace(BASE, **change))
    assert changed.frame["from_cache"].tolist() == [False]
    assert run(replace(BASE, **change)).frame["from_cache"].tolist() == [True]


def test_editing_one_column_draws_only_that_column(cache_on):
    two = replace(BASE, columns=[Column("A photo of melanoma"), Column("A histology image of melanoma")], images_per_cell=2)
    run(two)
    edited = run(replace(two, columns=[two.columns[0], Column("An H&E image of melanoma")]))
    assert edited.frame.groupby("column")["from_cache"].apply(list).tolist() == [[True, True], [False, False]]


def test_every_cached_image_comes_first_then_the_new_ones(cache_on):
    rows = [GuidanceSetting(4.0, 2), GuidanceSetting(7.0, 2)]
    two = replace(BASE, columns=[Column("A photo of melanoma"), Column("A histology image of melanoma")], settings=rows)
    run(two)
    edited = replace(two, columns=[Column("An H&E image of melanoma"), two.columns[1]])  # column 1 edited
    first, *rest = stream(edited)
    assert first.frame[["row", "column"]].values.tolist() == [[0, 1], [1, 1]]  # both rows' cached images, at once
    assert first.frame["from_cache"].all() and not any(chunk.frame["from_cache"].any() for chunk in rest)


def test_the_least_recently_used_images_are_evicted_first(tmp_path):
    cache = ImageCache(tmp_path, max_bytes=10**9)
    images = {key: Image.new("RGB", (64, 64), (i * 60, 10, 10)) for i, key in enumerate("abc")}
    for age, (key, image) in enumerate(images.items()):
        cache.put(cache_key(name=key), image)
        os.utime(cache._path(cache_key(name=key)), (1000 + age, 1000 + age))
    assert cache.get(cache_key(name="a")) is not None  # "a" is now the most recently used
    cache.max_bytes = 2 * cache._path(cache_key(name="a")).stat().st_size
    cache.evict()
    assert [cache.get(cache_key(name=k)) is not None for k in "abc"] == [True, False, True]
