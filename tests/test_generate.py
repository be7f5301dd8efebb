"""The engine on the tiny model: grids, seeds, batching, progress and input checks."""

import math

import numpy as np
import pytest

from playground import Column, Comparison, GuidanceSetting, compare, run
from playground.errors import PlaygroundError
from playground.schema import of_step

TWO_STEPS = (GuidanceSetting(4.0, steps=2), GuidanceSetting(7.5, steps=2, scheduler="DPM++ 2M"))


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def comparison(**overrides) -> Comparison:
    values = dict(
        subject="melanoma",
        columns=[Column("A photo of melanoma"), Column("A histopathological image of melanoma")],
        settings=TWO_STEPS,
        images_per_cell=2,
    )
    values.update(overrides)
    return Comparison(**values)


def test_documented_api_returns_eight_scored_images():
    result = compare("Graves' disease", ["photo-short", "histopathology-detailed"], TWO_STEPS, images_per_cell=2)
    assert len(result.images) == 8 and len(result.frame) == 8
    assert list(result.frame.columns[: len(of_step("generate"))]) == of_step("generate")
    for column in ("clip_prompt", "clip_subject"):
        assert all(isinstance(v, float) and 0 <= v <= 100 for v in result.frame[column])
    assert result.frame["clip_prompt"].gt(0).any()


def test_grid_is_templates_by_settings_by_seeds_with_the_same_seeds_per_cell():
    result = run(comparison())
    frame = result.frame
    assert len(result.images) == 2 * 2 * 2
    cells = frame.groupby(["row", "column"])["seed"].apply(list)
    assert all(seeds == [0, 1] for seeds in cells)
    assert set(frame["scheduler"]) == {"Euler", "DPM++ 2M"}
    assert {im.size for im in result.images} == {(64, 64)}


def test_same_seed_same_image_and_different_seeds_differ():
    first, second = run(comparison()), run(comparison())
    for a, b in zip(first.images, second.images):
        assert np.array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(first.images[0]), pixels(first.images[1]))  # seeds 0 and 1


def test_columns_differ_only_by_prompt():
    same = run(comparison(columns=[Column("A photo of melanoma"), Column("A photo of melanoma")], images_per_cell=1))
    assert np.abs(pixels(same.images[0]) - pixels(same.images[1])).max() <= 1
    different = run(comparison(images_per_cell=1))
    assert np.abs(pixels(different.images[0]) - pixels(different.images[1])).max() > 10


def test_batch_size_does_not_change_the_images(monkeypatch):
    batched = run(comparison())
    monkeypatch.setenv("PLAYGROUND_MAX_BATCH", "1")
    one_by_one = run(comparison())
    for a, b in zip(batched.images, one_by_one.images):
        assert np.abs(pixels(a) - pixels(b)).max() <= 2


def test_progress_counts_every_image_step_up_to_the_total_and_says_images_done_and_time_left():
    calls = []
    run(comparison(), progress=lambda done, total, what: calls.append((done, total, what)))
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and calls[-1] == (16, 16, "8 of 8 images done")
    assert len(calls) >= 4  # per step, not per row
    said = [what for *_, what in calls]
    assert said[0].startswith("0 of 8 images done · about ") and said[0].endswith((" s left", " min left"))
    counts = [int(what.split(" of ")[0]) for what in said]
    assert counts == sorted(counts) and set(counts) >= {0, 8}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subject": "  "}, "subject is empty"),
        ({"columns": []}, "1 to 4 prompt columns"),
        ({"columns": [Column(" ")]}, "prompt of column 1 is empty"),
        ({"settings": [GuidanceSetting(steps=0)]}, "steps must be between 1 and 100, got 0"),
        ({"settings": [GuidanceSetting(math.nan)]}, "guidance scale must be a number"),
        ({"settings": [GuidanceSetting(scheduler="Magic")]}, "Unknown scheduler 'Magic'"),
        ({"images_per_cell": 40}, "asks for 160 images; the limit is 64"),
        ({"base_seed": -1}, "Seeds must lie in 0..4294967295"),
        ({"width": 100}, "`width` must be a multiple of 8"),
    ],
)
def test_bad_input_is_refused_with_the_value_named(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        run(comparison(**overrides))


@pytest.mark.parametrize(("overrides", "work"), [
    ({"images_per_cell": 4, "settings": [GuidanceSetting(steps=100)] * 4, "width": 1024, "height": 1024,
      "columns": [Column(f"A photo of melanoma, view {i}") for i in range(4)]}, "25,600"),  # 64 x 100 x 1024 px
    ({"images_per_cell": 4, "settings": [GuidanceSetting(steps=100)] * 2, "width": 1024, "height": 1024}, "6,400"),
])
def test_one_requests_work_is_capped_with_a_sentence_that_points_to_the_sweep(overrides, work):
    big = comparison(**overrides)
    big.check_inputs()  # within every other limit
    with pytest.raises(PlaygroundError, match=f"asks for about {work} image-steps at 512x512.*as a sweep"):
        big.check_work()
    comparison().check_work()  # the usual grid passes
