"""The app's tools over MCP: a real MCP client (the `mcp` package, streamable HTTP) lists them on
the running app and calls them, as an agent connected to a Space would."""

import ast
import asyncio
import base64
import io
from concurrent.futures import ThreadPoolExecutor

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from playground.catalog.curated import load_curated
from playground.stores.library import Library

TOOLS = {"compare_prompts", "judge_image", "confusion_warning", "search_library"}


def mcp(app_url: str, call):
    """`call(session)` on an initialised MCP session with the app's MCP endpoint."""

    async def run():
        async with streamable_http_client(f"{app_url}gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await call(session)

    with ThreadPoolExecutor(1) as own_loop:  # Playwright's sync API keeps an event loop running in this thread
        return own_loop.submit(asyncio.run, run()).result()


def call_tool(app_url: str, name: str, **arguments):
    return mcp(app_url, lambda session: session.call_tool(name, arguments))


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_tools_are_listed_with_their_arguments_described(app_url):
    listed = mcp(app_url, lambda session: session.list_tools()).tools
    tools = {tool.name: tool for tool in listed if tool.name in TOOLS}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and "Returns:" in tool.description
        assert all(p.get("description") for p in tool.inputSchema["properties"].values()), tool.name
    compare = tools["compare_prompts"].inputSchema
    assert compare["required"] == ["subject"]
    assert compare["properties"]["images_per_cell"]["type"] == "integer"
    image = tools["judge_image"].inputSchema["properties"]["image"]
    assert image["type"] == "string" and "url" in image["format"]  # a URL or data: URL, uploaded by Gradio


def test_compare_prompts_returns_images_and_their_scores(app_url):
    result = call_tool(app_url, "compare_prompts", subject="melanoma", templates=["photo-short"],
                       prompts=["A histopathological image of melanoma, H&E"], guidance_scales=[4.0], steps=2,
                       images_per_cell=2, seed=3)
    assert not result.isError, result.content
    found = ast.literal_eval(result.content[0].text)
    images = found["images"]
    assert found["subject"] == "melanoma" and len(images) == 4  # 2 prompts x 1 row x 2 seeds
    assert [i["number"] for i in images] == [1, 2, 3, 4] and {i["seed"] for i in images} == {3, 4}
    assert {i["template_id"] for i in images} == {"photo-short", "free"}
    assert all(0 <= i["clip_prompt"] <= 100 and i["probe_top3"] for i in images)
    for image in images:  # a template's images have its modality's checklist; a typed prompt has none
        has_checklist = image["template_id"] == "photo-short"
        assert bool(image["criteria"]) is has_checklist
        assert (0 <= image["criteria_score"] <= 1) if has_checklist else image["criteria_score"] is None
    with Image.open(io.BytesIO(httpx.get(images[0]["image"]["url"]).content)) as first:
        assert first.size == (64, 64)
    with Image.open(io.BytesIO(httpx.get(found["grid"]["url"]).content)) as labelled:
        assert labelled.width > 2 * 64  # two columns of thumbnails, with labels


def test_judge_image_returns_the_checklist_of_an_uploaded_image(app_url):
    picture = Image.radial_gradient("L").convert("RGB").resize((96, 96))
    result = call_tool(app_url, "judge_image", image=data_url(picture), subject="melanoma", modality="photograph",
                       judge="tiny-offline-vlm")
    assert not result.isError, result.content
    verdict = ast.literal_eval(result.content[0].text)
    criteria = load_curated().criteria_for("photograph", "melanoma")
    assert [a["id"] for a in verdict["vlm_checklist"]] == [c.id for c in criteria]
    assert [a["question"] for a in verdict["vlm_checklist"]] == [c.question for c in criteria]
    assert all(0 <= a["p_yes"] <= 1 for a in verdict["vlm_checklist"])
    assert 0 <= verdict["vlm_score"] <= 1 and verdict["vlm_id"] == "tiny-offline-vlm"
    assert [c["id"] for c in verdict["criteria"]] == [c.id for c in criteria]  # CLIP's reading of the same checklist
    assert verdict["prompt"] == "melanoma" and 0 <= verdict["clip_prompt"] <= 100


def test_a_mistake_is_answered_with_a_sentence(app_url):
    picture = Image.new("RGB", (64, 64), "white")
    result = call_tool(app_url, "judge_image", image=data_url(picture), subject="melanoma", modality="ultrasound")
    assert result.isError
    assert "Unknown modality 'ultrasound'; choose one of: " in result.content[0].text


def test_confusion_warning_names_the_subjects_confusers(app_url):
    said = call_tool(app_url, "confusion_warning", prompt="A photo of Graves' disease", subject="Graves' disease")
    assert not said.isError
    assert any(label in said.content[0].text for label in load_curated().confusers_of("Graves' disease"))
    said = call_tool(app_url, "confusion_warning", prompt="A photo of melanoma", subject="melanoma")
    assert said.content[0].text.startswith("No confusion is documented for \u201cmelanoma\u201d")


def test_search_library_finds_a_preferred_prompt_with_its_image(app_url, fresh_library):
    Library().log({"subject": "melanoma", "template_id": "photo-short", "prompt": "A photo of melanoma, dermoscopy",
                   "negative_prompt": "", "model_id": "tiny-offline", "scheduler": "Euler", "steps": 2,
                   "guidance_scale": 7.5, "seed": 5, "width": 64, "height": 64},
                  Image.new("RGB", (64, 64), "red"), scores={"clip_prompt": 21.5}, tags=["dermoscopy"])
    found = call_tool(app_url, "search_library", query="DERMOSCOPY", page_size=5)
    assert not found.isError, found.content
    listing = ast.literal_eval(found.content[0].text)
    assert listing["where"] == "Page 1 of 1 · 1 record"
    (record,) = listing["records"]
    assert (record["prompt"], record["votes"], record["clip_prompt"], record["tags"]) == (
        "A photo of melanoma, dermoscopy", 1, 21.5, ["dermoscopy"])
    with Image.open(io.BytesIO(httpx.get(record["image"]["url"]).content)) as image:
        assert image.getpixel((0, 0)) == (255, 0, 0)
