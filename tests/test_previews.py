"""Live previews: a long row's images shown forming (decoded by the tiny decoder every few steps),
never changing the images drawn, and on the page above the grid while they form."""

import pandas as pd

from playground import GuidanceSetting
from playground.comparison import Comparison
from playground.engine import previews
from playground.engine.generate import run
from playground.types import Column


class Watching:
    """A progress callback that can show previews, as the app's is (ui/gpu_task)."""

    def __init__(self) -> None:
        self.shown: list[list[previews.Preview]] = []

    def __call__(self, done, total, what=None) -> None:
        pass

    def preview(self, items) -> None:
        self.shown.append(list(items))


def grid(steps: int) -> Comparison:
    return Comparison("melanoma", [Column("A photo of melanoma"), Column("A dermoscopy image of melanoma")],
                      [GuidanceSetting(4.0, steps)], images_per_cell=1, base_seed=3, model_id="tiny-offline")


def test_a_long_row_is_previewed_every_few_steps_and_its_images_do_not_change():
    watching = Watching()
    seen = run(grid(12), watching)
    assert [[(p.step, p.steps) for p in batch] for batch in watching.shown] == [[(4, 12)] * 2, [(8, 12)] * 2]
    assert [(p.row, p.column, p.seed) for p in watching.shown[0]] == [(0, 0, 3), (0, 1, 3)]
    assert all(max(p.image.size) <= previews.SIDE for batch in watching.shown for p in batch)
    unseen = run(grid(12), lambda done, total, what=None: None)  # a callback without `preview`: none asked for
    assert all((a.tobytes() == b.tobytes()) for a, b in zip(seen.images, unseen.images))


def test_a_short_row_has_no_preview():
    watching = Watching()
    run(grid(previews.MIN_STEPS - 1), watching)
    assert watching.shown == []


def test_the_page_shows_the_images_forming_above_the_grid_before_they_are_drawn(client):
    settings = {"headers": ["guidance_scale", "steps", "scheduler", "negative_prompt"], "data": [[4.0, 9, "default", ""]]}
    job = client.submit(subject="melanoma", template_1="photo-short", prompt_1="A photo of melanoma", template_2="off",
                        prompt_2="", settings=settings, images_per_cell=1, seed=5, api_name="/compare")
    *_, table, _, _, _ = job.result()
    grids = [output[0] for output in job.outputs()]
    grids = [g["value"] if isinstance(g, dict) else g for g in grids]
    forming = [g for g in grids if "Forming (a fast preview): step 4 of 9" in g]
    assert forming and "data:image/jpeg;base64," in forming[0] and "r1 c1 · seed 5" in forming[0]
    assert "Forming" not in grids[-1]  # gone once the images are drawn
    assert len(pd.DataFrame(table["data"], columns=table["headers"])) == 1
