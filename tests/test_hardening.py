"""A public Space: every bad input or fault gets a plain answer and leaves nothing broken or lost.
One test (or a few) per item of the hardening list, through gradio_client where input comes from
outside."""

import json
import math
import re
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from playground import PlaygroundError, compare, load_pipeline
from playground.catalog.curated import load_curated
from playground.catalog.templates import load_templates
from playground.config import get_settings
from playground.engine.generate import image_problem
from playground.models.runtime import offline_runtime
from playground.stores.library import Library
from playground.types import Column, GuidanceSetting
from playground.ui import build_demo, launch_kwargs, queued

from .conftest import free_port
from .test_ui_api import SETTINGS, call_compare, captions


def outputs_count() -> int:
    return sum(1 for _ in get_settings().outputs_dir.rglob("*.png"))


def refused(client, message: str, **overrides) -> str:
    with pytest.raises(AppError) as error:
        call_compare(client, **overrides)
    text = str(error.value)
    assert message in text and "Traceback" not in text
    return text


def still_serving(client) -> None:
    grid, *_ = call_compare(client, images_per_cell=1, settings={**SETTINGS, "data": [[4.0, 2, "default", ""]]})
    assert len(captions(grid)) == 2


# 1. empty, whitespace-only, 1 MB prompts
@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"subject": ""}, "subject is empty"), ({"subject": " \t\n "}, "subject is empty"),
     ({"prompt_1": "x" * 1_000_000}, "1,000,000 characters; the limit is 2,000"),
     ({"subject": "y" * 1_000_000}, "The subject has 1,000,000 characters")],
)
def test_empty_or_huge_input_is_refused_and_nothing_is_made(client, overrides, message):
    before, records = outputs_count(), len(Library().to_frame())
    refused(client, message, **overrides)
    assert outputs_count() == before and len(Library().to_frame()) == records


# 2. prompts longer than 77 CLIP tokens
def test_a_long_prompt_runs_and_says_where_it_was_cut(client):
    words = [f"lesion{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(120)]  # letters: one token each
    grid, legend, _, table, *_ = call_compare(
        client, prompt_1="A photo of melanoma " + " ".join(words), images_per_cell=1
    )
    assert len(captions(grid)) == 4
    assert "prompt is longer than the text encoder of `tiny-offline` reads" in legend
    ignored = legend.split("cut before:")[1]
    assert words[-1] in ignored and words[0] not in ignored


# 3. numbers out of range, from the API (which skips the sliders)
@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"width": 100}, "`width` must be a multiple of 8"), ({"width": 0, "height": 8192}, "`height` must be a multiple"),
     ({"settings": {**SETTINGS, "data": [[4.0, 0, "default", ""]]}}, "steps must be between 1 and 100, got 0"),
     ({"settings": {**SETTINGS, "data": [[4.0, 10_000, "default", ""]]}}, "got 10000"),
     ({"settings": {**SETTINGS, "data": [["inf", 2, "default", ""]]}}, "guidance scale must be a number"),
     ({"settings": {**SETTINGS, "data": [["-Infinity", 2, "default", ""]]}}, "guidance scale must be a number"),
     ({"settings": {**SETTINGS, "data": [["NaN", 2, "default", ""]]}}, "guidance scale must be a number"),
     ({"settings": {"headers": [*SETTINGS["headers"], "clip_guidance_scale"], "data": [[4.0, 2, "default", "", -5]]}},
      "CLIP guidance scale must be"),
     ({"seed": 2**32}, "Seeds must lie in 0..4294967295"), ({"seed": -1}, "Seeds must lie in 0"),
     ({"images_per_cell": 0}, "less than minimum value 1")],
)
def test_out_of_range_numbers_are_refused_and_the_server_keeps_serving(client, overrides, message):
    refused(client, message, **overrides)
    still_serving(client)


def test_more_images_than_the_limit_are_refused(client, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_IMAGES", "6")
    refused(client, "asks for 8 images; the limit is 6")


def test_one_request_cannot_hold_the_only_worker_and_is_told_of_the_sweep(client):
    rows = {**SETTINGS, "data": [[4.0, 100, "default", ""]] * 4}
    before = outputs_count()
    text = refused(client, "asks for about 25,600 image-steps at 512x512 pixels", settings=rows, images_per_cell=4,
                   width=1024, height=1024, template_3="photo-short", template_4="photo-detailed")  # 64 x 100 x 1024 px
    assert "playground sweep" in text and outputs_count() == before  # refused before anything is drawn


# 4. names that are not offered
@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"model": "stabilityai/stable-diffusion-xl-base-1.0"}, "stable-diffusion-xl-base-1.0"),
     ({"settings": {**SETTINGS, "data": [[4.0, 2, "../../etc", ""]]}}, "Unknown scheduler '../../etc'"),
     ({"template_1": "no-such-template"}, "no-such-template"),
     ({"scorer": "ViT-bigG-14/laion2b"}, "ViT-bigG-14/laion2b")],
)
def test_models_schedulers_templates_not_offered_are_refused(client, overrides, message):
    refused(client, message, **overrides)


def test_any_hub_id_only_when_the_operator_allows_it(monkeypatch):
    import pandas as pd

    from playground.workflow.form import SETTINGS_HEADERS, CompareForm

    runtime, templates = offline_runtime("test"), load_templates()
    settings = pd.DataFrame([[4, 2, "default", "", 0]], columns=SETTINGS_HEADERS)
    form = CompareForm.from_fields({"subject": "x", "model": "someone/model", "template_1": "free", "prompt_1": "a photo",
                                    "settings": settings, "images_per_cell": 1, "seed": 0})
    with pytest.raises(ValueError, match="not offered here"):
        form.resolve(templates, runtime)
    monkeypatch.setenv("PLAYGROUND_ALLOW_ANY_MODEL", "1")
    assert form.resolve(templates, runtime)[0].model_id == "someone/model"


# 5. files: only generated images are served; uploads are limited
def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_only_the_generated_images_folder_is_served(client, app_url):
    _, _, _, _, zip_path, *_ = call_compare(client, images_per_cell=1)
    generated = next(get_settings().outputs_dir.rglob("*.png"))
    base = app_url.rstrip("/")
    assert status(f"{base}/gradio_api/file={generated}") == 200
    root = Path(__file__).resolve().parent.parent
    for path in ["/etc/passwd", "../app.py", str(root / "app.py"), str(get_settings().library_path),
                 str(next(get_settings().models_dir.rglob("*.safetensors")))]:
        for route in ("/gradio_api/file=", "/file=", "/gradio_api/file/"):
            assert status(f"{base}{route}{path}") in (403, 404), (route, path)


def test_uploads_have_a_size_limit(app_url):
    body = b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.jsonl\"\r\n\r\n"
    body += b"x" * (11 * 1024 * 1024) + b"\r\n--b--\r\n"
    request = urllib.request.Request(f"{app_url.rstrip('/')}/gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": "multipart/form-data; boundary=b"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=30)
    assert error.value.code == 413


# 6. user text never runs as HTML: see test_library_browser.py::test_user_text_is_shown_as_text_never_run_as_html


# 7. out of memory
def test_out_of_memory_gives_a_plain_error_and_the_next_request_succeeds():
    def out_of_memory(done: int, total: int, what: str) -> None:  # raised where the model raises it: inside denoising
        import torch

        raise torch.OutOfMemoryError("CUDA out of memory (raised by the test's progress callback)")

    request = dict(subject="melanoma", template_ids=["photo-short", "histopathology-short"],
                   settings=[GuidanceSetting(4.0, steps=2)], images_per_cell=2)
    with pytest.raises(PlaygroundError) as error:
        compare(**request, progress=out_of_memory)
    assert "Out of memory while generating a batch of 4 images" in str(error.value)
    assert len(compare(**request).images) == 4


# 8. black / NaN images and safety-checker flags
def test_a_nan_image_is_labelled_not_scored_and_cannot_be_preferred(client):
    import torch

    vae = load_pipeline("tiny-offline").vae
    weight = vae.decoder.conv_out.weight
    saved = weight.detach().clone()
    with torch.no_grad():
        weight.fill_(float("nan"))
    try:
        grid, _, _, table, *_ = call_compare(client, images_per_cell=1)
    finally:
        with torch.no_grad():
            weight.copy_(saved)
    assert all(c.startswith("⚠ black image") for c in captions(grid))
    headers = table["headers"]
    assert "clip_prompt" not in headers or all(row[headers.index("clip_prompt")] in (None, "NaN") or
                                               (isinstance(row[headers.index("clip_prompt")], float) and
                                                math.isnan(row[headers.index("clip_prompt")])) for row in table["data"])
    with pytest.raises(AppError, match="is not a real image"):
        client.predict(image=1, note="", api_name="/prefer")
    still_serving(client)


def checked_pipeline(folder: Path) -> Path:
    """The tiny SD pipeline with a tiny safety checker (diffusers' class) that flags every image."""
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusers.pipelines.stable_diffusion.safety_checker import (
        StableDiffusionSafetyChecker,
    )
    from transformers import CLIPConfig, CLIPImageProcessor

    from playground.models.offline import ensure_built

    pipe = StableDiffusionPipeline.from_pretrained(ensure_built("tiny-offline", get_settings().models_dir))
    small = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
    checker = StableDiffusionSafetyChecker(CLIPConfig(text_config=small, projection_dim=16,
                                                      vision_config={**small, "image_size": 32, "patch_size": 8}))
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(-1.0)  # every cosine is above the threshold: every image flagged
    pipe.register_modules(safety_checker=checker, feature_extractor=CLIPImageProcessor(size=32, crop_size=32))
    pipe.register_to_config(requires_safety_checker=True)
    pipe.save_pretrained(folder)
    return folder


def test_safety_checker_flags_are_labelled_and_it_can_be_switched_off(monkeypatch, tmp_path):
    from PIL import Image

    from playground.comparison import Comparison
    from playground.engine.generate import run

    assert image_problem(Image.new("RGB", (8, 8), (90, 20, 20)), flagged_unsafe=True).startswith("flagged by the safety")
    assert image_problem(Image.new("RGB", (8, 8), (90, 20, 20)), flagged_unsafe=False) == ""
    folder = str(checked_pipeline(tmp_path / "checked"))
    request = Comparison("melanoma", [Column("A photo of melanoma")], [GuidanceSetting(4.0, 2)], images_per_cell=1,
                         model_id=folder)
    assert get_settings().safety_checker and load_pipeline(folder).safety_checker is not None
    assert run(request).frame["image_problem"][0].startswith("flagged by the safety checker")
    monkeypatch.setenv("PLAYGROUND_SAFETY_CHECKER", "off")
    assert load_pipeline(folder).safety_checker is None
    assert run(request).frame["image_problem"][0] == ""


# 9. a full queue
def test_a_full_queue_answers_busy(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_QUEUE_SIZE", "1")
    demo = queued(build_demo(offline_runtime("queue test")))
    _, url, _ = demo.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True, **launch_kwargs())
    try:
        client = Client(url, verbose=False)
        slow = {"settings": {**SETTINGS, "data": [[4.0, 30, "default", ""]] * 4}, "images_per_cell": 2}
        values = dict(subject="melanoma", template_1="photo-short", prompt_1="A photo of melanoma", **slow)
        jobs = [client.submit(**values, api_name="/compare") for _ in range(5)]
        outcomes = []
        for job in jobs:
            try:
                job.result(timeout=300)
                outcomes.append("ok")
            except Exception as error:  # the rejected ones
                outcomes.append(str(error))
        assert outcomes.count("ok") >= 1
        busy = [o for o in outcomes if o != "ok"]
        assert busy and all("full" in o.lower() and "try again" in o.lower() for o in busy)
    finally:
        demo.close()


# 10. the library cannot be written
def test_a_locked_library_says_the_record_was_not_saved_and_loses_nothing(client, monkeypatch):
    call_compare(client, images_per_cell=1)
    first = client.predict(image=1, note="", api_name="/prefer")
    assert "record #" in first
    before = Library().to_frame()
    monkeypatch.setenv("PLAYGROUND_LIBRARY_TIMEOUT", "0.2")
    blocker = sqlite3.connect(get_settings().library_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(AppError, match="The record was not saved"):
            client.predict(image=2, note="", api_name="/prefer")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    after = Library().to_frame()
    assert after[["id", "votes", "content_hash"]].equals(before[["id", "votes", "content_hash"]])
    assert "record #" in client.predict(image=2, note="", api_name="/prefer")


def test_an_unwritable_library_path_says_the_record_was_not_saved(client, monkeypatch, tmp_path):
    call_compare(client, images_per_cell=1)
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("PLAYGROUND_LIBRARY", str(tmp_path / "a-file" / "library.sqlite"))
    with pytest.raises(AppError, match="The record was not saved"):
        client.predict(image=1, note="", api_name="/prefer")


# 11. the Hub cannot be reached while sharing the library
def test_sharing_to_an_unreachable_hub_keeps_rows_locally_and_the_app_works(client, monkeypatch, closed_port_endpoint):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_endpoint)
    monkeypatch.setenv("LIBRARY_HUB_REPO", "someone/unreachable-library")
    call_compare(client, images_per_cell=1, subject="basal cell carcinoma", prompt_1="A photo of basal cell carcinoma")
    assert "record #" in client.predict(image=1, note="", api_name="/prefer")
    lines = [json.loads(line) for path in get_settings().library_hub_dir.glob("*.jsonl")
             for line in path.read_text().splitlines()]
    assert any(row["subject"] == "basal cell carcinoma" for row in lines)
    still_serving(client)


# 12. corrupt or hand-edited data files
def test_the_app_starts_with_bad_yaml_and_names_the_file_and_line(tmp_path):
    root = get_settings().data_dir
    folder = tmp_path / "templates"
    folder.mkdir()
    for path in (root / "templates").glob("*.yaml"):
        (folder / path.name).write_text(path.read_text())
    (folder / "broken.yaml").write_text("- {id: x, title: [oops\n")
    (folder / "edited.yaml").write_text("- {id: ok-one, title: T, modality: ct, text: 'A {subject}'}\n"
                                        "- {id: bad-one, title: T, modality: ct, txt: 'A {subject}'}\n")
    curated_folder = tmp_path / "curated"
    curated_folder.mkdir()
    for name in ("criteria", "subjects", "probe"):
        (curated_folder / f"{name}.yaml").write_text((root / f"{name}.yaml").read_text())
    (curated_folder / "confusions.yaml").write_text((root / "confusions.yaml").read_text() + "- {id: broken}\n")

    demo = build_demo(offline_runtime("test"), load_templates(folder), load_curated(curated_folder))
    _, url, _ = demo.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True, **launch_kwargs())
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/config", timeout=10) as response:
            config = response.read().decode()
    finally:
        demo.close()
    assert "Some prompt_library entries were skipped" in config
    assert re.search(r"broken\.yaml:\d+: not valid YAML", config)
    assert "edited.yaml:2" in config and "txt" in config
    assert "confusions.yaml:" in config
    assert '"ok-one"' in config
