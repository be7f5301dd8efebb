"""Every model family on its tiny offline model, through the whole path: compare, scores, PNG
parameters, the library; batching, one progress bar, each text encoded once, the pipeline's own
text path reproduced; and models side by side."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from playground import Column, Comparison, GuidanceSetting, compare, load_pipeline, run
from playground.models.registry import capabilities
from playground.render.export import parse_parameters, read_parameters
from playground.stores.library import Library, prefer

FAMILIES = ["tiny-offline", "tiny-offline-sdxl", "tiny-offline-sd3", "tiny-offline-flux", "tiny-offline-pixart",
            "tiny-offline-sana"]
TEMPLATES = ["photo-short", "histopathology-detailed"]  # each with its own negative prompt


TWO_SETTINGS = [GuidanceSetting(4.0, 2), GuidanceSetting(7.5, 2)]  # FLUX's guidance is embedded, the others' CFG


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@dataclass
class Calls:
    """Forward calls of a pipeline's modules, counted by torch hooks during a request."""

    by_module: dict[str, int] = field(default_factory=dict)
    handles: list = field(default_factory=list)

    def watch(self, pipe, names: list[str]) -> None:
        for name in names:
            module = getattr(pipe, name, None)
            if module is not None:
                self.by_module[name] = 0
                self.handles.append(module.register_forward_hook(self._counter(name)))

    def _counter(self, name: str):
        def count(*_):
            self.by_module[name] += 1
        return count

    def stop(self) -> None:
        for handle in self.handles:
            handle.remove()


@dataclass
class FamilyRun:
    model_id: str
    result: object
    again: object
    encoders: dict[str, int]
    denoiser_calls: int
    progress: list


@pytest.fixture(scope="module", params=FAMILIES)
def family_run(request, tmp_path_factory) -> FamilyRun:
    model_id = request.param
    pipe = load_pipeline(model_id)
    encoders, denoiser, progress = Calls(), Calls(), []
    encoders.watch(pipe, ["text_encoder", "text_encoder_2", "text_encoder_3"])
    denoiser.watch(pipe, ["unet", "transformer"])
    try:
        result = compare("melanoma", TEMPLATES, TWO_SETTINGS, images_per_cell=2, model_id=model_id,
                         folder=tmp_path_factory.mktemp(model_id), progress=lambda d, t, _what: progress.append((d, t)))
    finally:
        encoders.stop()
        denoiser.stop()
    again = compare("melanoma", TEMPLATES, TWO_SETTINGS, images_per_cell=2, model_id=model_id)
    return FamilyRun(model_id, result, again, encoders.by_module, sum(denoiser.by_module.values()), progress)


def test_each_family_gives_eight_scored_rows_and_the_same_images_twice(family_run):
    frame = family_run.result.frame
    assert len(frame) == 8 and set(frame["model_id"]) == {family_run.model_id}
    assert frame["clip_prompt"].notna().all() and (frame["image_problem"] == "").all()
    assert frame.groupby(["row", "column"])["seed"].apply(list).tolist() == [[0, 1]] * 4
    for a, b in zip(family_run.result.images, family_run.again.images):
        assert np.array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(family_run.result.images[0]), pixels(family_run.result.images[1]))


def test_each_family_batches_a_row_and_shows_one_progress_bar(family_run):
    steps = sum(s.steps for s in TWO_SETTINGS)
    assert family_run.denoiser_calls == steps  # 4 images of a row denoised together, CFG included
    done = [d for d, _ in family_run.progress]
    assert done == sorted(done) and {t for _, t in family_run.progress} == {steps * 4}
    assert family_run.progress[-1] == (steps * 4, steps * 4) and len(done) >= steps


def test_each_distinct_text_is_encoded_once_per_request_by_every_encoder(family_run):
    frame = family_run.result.frame
    negatives = set(frame["negative_prompt"]) if capabilities(family_run.model_id).negative_prompt else set()
    if family_run.model_id == "tiny-offline-sdxl":
        negatives.discard("")  # SDXL's empty negative prompt is zeros, not an encoding
    texts = set(frame["prompt"]) | negatives
    assert len(set(frame["prompt"])) == 2 and "" in set(frame["negative_prompt"])
    assert family_run.encoders and all(calls == len(texts) for calls in family_run.encoders.values()), family_run.encoders


def test_each_family_writes_png_parameters_and_logs_to_the_library(family_run, fresh_library):
    row = family_run.result.frame.iloc[5]
    parameters = parse_parameters(read_parameters(row["image_path"]))
    assert parameters["Model"] == family_run.model_id and parameters["Seed"] == str(row["seed"])
    logged = prefer(row.to_dict())
    assert Library().get(logged.id)["model_id"] == family_run.model_id


@pytest.mark.parametrize("model_id", FAMILIES)
def test_embeddings_draw_what_the_pipeline_draws_from_the_texts(model_id):
    """Our encoding (once per text, batched) is the pipeline's own: same seed, same image; a
    negative prompt the model takes none of is not sent (and shown as ignored)."""
    setting = TWO_SETTINGS[1]
    column = Column("A dermoscopic photograph of melanoma", negative_prompt="blurry, cartoon")
    ours = run(Comparison("melanoma", [column], [setting], images_per_cell=1, model_id=model_id))
    pipe = load_pipeline(model_id)
    negative = {"negative_prompt": column.negative_prompt} if capabilities(model_id).negative_prompt else {}
    options = {"tiny-offline-pixart": {"use_resolution_binning": False}, "tiny-offline-sana": {"use_resolution_binning": False},
               "tiny-offline-flux": {"max_sequence_length": 256}}.get(model_id, {})  # as the engine calls them
    with torch.inference_mode():
        theirs = pipe(column.prompt, **negative, guidance_scale=setting.guidance_scale,
                      num_inference_steps=setting.steps, generator=torch.Generator("cpu").manual_seed(0),
                      width=64, height=64, **options).images[0]
    assert np.abs(pixels(ours.images[0]) - pixels(theirs)).max() <= 1
    assert ours.frame["negative_prompt"][0] == (column.negative_prompt if negative else "")
    assert ours.frame["negative_ignored"][0] == ("" if negative else column.negative_prompt)


def test_models_side_by_side_share_the_seeds_and_label_their_rows():
    result = compare("melanoma", TEMPLATES, images_per_cell=2, model_id=["tiny-offline", "tiny-offline-sdxl"])
    frame = result.frame
    assert list(dict.fromkeys(frame["model_id"])) == ["tiny-offline", "tiny-offline-sdxl"]
    per_model = frame.groupby("model_id")
    assert per_model["seed"].apply(set).tolist() == [{0, 1}, {0, 1}]
    assert per_model["row"].apply(lambda r: sorted(set(r))).tolist() == [[0, 1], [2]]  # each model's own preset
    assert frame[frame["model_id"] == "tiny-offline-sdxl"]["setting"].iloc[0] == "CFG 5 · 10 steps · default"


# The T5 tokenizer folders as the real repos hold them (looked up in each repo's file tree):
# PixArt-Σ's tokenizer/ has no tokenizer.json, so transformers converts spiece.model with
# sentencepiece and protobuf; SD3's tokenizer_3/ ships tokenizer.json beside it.
T5_FOLDERS = [
    ("tiny-offline-pixart", "tokenizer", {"special_tokens_map.json", "spiece.model", "tokenizer_config.json"}),
    ("tiny-offline-flux", "tokenizer_2", {"special_tokens_map.json", "spiece.model", "tokenizer_config.json"}),
    ("tiny-offline-sd3", "tokenizer_3", {"special_tokens_map.json", "spiece.model", "tokenizer.json",
                                         "tokenizer_config.json"}),
]


@pytest.mark.parametrize(("model_id", "folder", "files"), T5_FOLDERS, ids=[m for m, _, _ in T5_FOLDERS])
def test_t5_tokenizers_hold_the_real_repos_files_and_load_through_them(model_id, folder, files):
    from transformers import T5Tokenizer

    from playground.config import get_settings
    from playground.models.families._parts import t5_tokenizer
    from playground.models.offline import ensure_built

    path = ensure_built(model_id, get_settings().models_dir) / folder
    assert {p.name for p in path.iterdir()} == files
    loaded = T5Tokenizer.from_pretrained(path)  # from spiece.model alone where the repo has no tokenizer.json
    built = t5_tokenizer({"num_pieces": 32000})
    for text in ("A histopathological image of melanoma, H&E stained", "Graves' disease: an X-ray <extra_id_0>"):
        assert loaded(text).input_ids == built(text).input_ids
    pipe = load_pipeline(model_id)
    assert getattr(pipe, folder)("melanoma").input_ids == built("melanoma").input_ids
