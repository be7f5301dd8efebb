"""The playground's main functions as MCP tools: compare prompts, judge an image, warn of a
confusion, search the prompt library.

`register` adds each as a `gr.api` endpoint; with PLAYGROUND_MCP on, `launch(mcp_server=True)`
serves every such endpoint as a tool at /gradio_api/mcp/, named after its function. Gradio builds
the tool's schema from the type hints and the description from the docstring (a summary, then
one line "name: meaning" per argument, then one line after "Returns:"; Gradio reads them line by
line), so those are written for an agent that reads nothing else.

A file argument arrives as a URL or a data: URL and reaches the function as Gradio's FileData (a
dict with the uploaded file's `path`); files in a result are served by URL. Each tool returns one
value: Gradio sends an MCP client a tool's several outputs as one text or as one content item
each, depending on whether the client asked for progress.

No `from __future__ import annotations` here: Gradio reads the return annotation unevaluated.
"""

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

import gradio as gr
import pandas as pd
from PIL import Image

from .. import schema
from ..catalog.curated import Curated
from ..catalog.templates import TemplateSet
from ..config import Settings
from ..engine.progress import ProgressFn
from ..errors import PlaygroundError
from ..judges import base as judging
from ..judges.base import Context, Judges
from ..judges.confusion import confusion_warnings
from ..models.runtime import Runtime
from ..render.tables import WHO_JUDGED
from ..stores.library import PAGE_SIZES, Library
from ..types import MAX_COLUMNS, Column, GuidanceSetting
from ..workflow import budget
from ..workflow.compare import GRID_FILE, compare_to_folder
from ..workflow.form import FREE, NONE, CompareForm, table_of
from ..workflow.judge_files import Asked, read_image
from . import gpu
from .common import user_errors
from .compare_form import DEFAULT_TEMPLATES
from .library_tab import TABLE_COLUMNS

logger = logging.getLogger(__name__)

# What an image of a comparison is: where it sits in the grid (from 1) and how it was made.
IMAGE_KEYS = ["number", "row", "column", "model_id", "template_id", "prompt", "setting", "seed"]


def serving(settings: Settings) -> bool:
    """Whether the app serves its tools over MCP: PLAYGROUND_MCP is on and gradio[mcp] is
    installed (without it the app starts all the same, and says why there is no MCP server)."""
    if not settings.mcp:
        return False
    if importlib.util.find_spec("mcp") is None:
        logger.warning("PLAYGROUND_MCP is on but the mcp package is missing (pip install 'gradio[mcp]'): no MCP server.")
        return False
    return True


def _verdicts(frame: pd.DataFrame, keys: Sequence[str]) -> list[dict]:
    """Each image's row as JSON-ready values: `keys`, then every judge's verdict (scores, and
    checklists as records) and which model gave it."""
    columns = [*keys, *(c.name for c in schema.judged(frame)), *(n for n in WHO_JUDGED if n in frame)]
    return frame[columns].to_dict("records")


def _file(path: object) -> dict:
    """A file the app may serve (under the outputs folder) inside a result: Gradio finds it there
    as a FileData dict, copies it to its cache and adds its URL."""
    return gr.FileData(path=str(path)).model_dump()


def _judge_on_device(judges: Judges, frame: pd.DataFrame, images: list[Image.Image], context: Context,
                     progress: ProgressFn | None = None) -> pd.DataFrame:
    """`judges.base.run` as GPU work (`gpu.run` passes a progress callback; judging reports none)."""
    return judging.run(judges, frame, images, context)


def _read_image(image: gr.FileData | dict) -> Image.Image:
    """The uploaded image as the Judge tab reads its files (`workflow.judge_files.read_image`: the
    size, pixel and format limits, upright, grey kept grey)."""
    return read_image(Path(gr.FileData.model_validate(image).path), "The image")[0]


class Tools:
    """The tools, thin over the workflow: what they draw and judge with (runtime, templates, the
    judges' context) is fixed when the app is built, as for the Compare tab."""

    def __init__(self, runtime: Runtime, templates: TemplateSet, curated: Curated) -> None:
        self.runtime, self.templates = runtime, templates
        self.context = Context(curated, runtime.offline)

    @user_errors
    def compare_prompts(
        self, subject: str, templates: list[str] | None = None, prompts: list[str] | None = None,
        guidance_scales: list[float] | None = None, steps: int = 20, images_per_cell: int = 1, seed: int = 0,
        model: str = "", judge: str = NONE,
    ) -> dict:
        """Draw a medical subject with a text-to-image model through several prompts side by side, on the same
        seeds, and score every image: CLIP similarity to its prompt and to the subject (0-100), CLIP's expert
        checklist for the image's modality (0-1), and with a checklist judge its answers (P(yes), 0-1). Takes
        from seconds (small models) to minutes; the app caps one request's images and steps.

        Args:
            subject: the medical subject to draw, e.g. "melanoma" or "Graves' disease".
            templates: prompt templates from the prompt library, filled with the subject, one grid column each, e.g. ["photo-short", "histopathology-detailed", "xray-short"] (each modality has a -short and a -detailed one); empty with no prompts: the app's default columns.
            prompts: prompts typed in full, one grid column each after the templates' (1 to 4 columns in all).
            guidance_scales: classifier-free guidance scale of each grid row (1 to 4 rows; typically 1 to 15, 0 = off); empty: the model's recommended rows (then `steps` is not used).
            steps: denoising steps of every row given in guidance_scales (1 to 100 by default).
            images_per_cell: images per prompt and row, on seeds seed, seed+1, ... (at most 64 images in all by default).
            seed: the first seed (0 to 2**32-1); the same seeds give the same images.
            model: the text-to-image model (an id this app offers); empty: the app's default.
            judge: the checklist judge, a vision-language model the app offers (e.g. "HuggingFaceTB/SmolVLM2-2.2B-Instruct"), or "none" for CLIP's checklist only.

        Returns:
            a dict with `subject`, `images`: one record per image (number from 1, grid row and column from 1, model, template, prompt, setting, seed, its `image` file with a URL, and every score), and `grid`: the labelled grid of all images, a PNG file with a URL.
        """
        columns = [*((t, "") for t in templates or ()), *((FREE, p) for p in prompts or ())]
        if len(columns) > MAX_COLUMNS:
            raise PlaygroundError(f"A comparison has 1 to {MAX_COLUMNS} prompt columns, got {len(columns)} templates "
                                  "and prompts.")
        fields = {"subject": subject, "images_per_cell": images_per_cell, "seed": seed, "model": model or None,
                  "judge": judge}
        for i, (template_id, prompt) in enumerate(columns or [(t, "") for t in DEFAULT_TEMPLATES], start=1):
            fields |= {f"template_{i}": template_id, f"prompt_{i}": prompt}
        if guidance_scales:
            fields["settings"] = table_of([GuidanceSetting(g, steps) for g in guidance_scales])
        comparison, judges = CompareForm.from_fields(fields).resolve(self.templates, self.runtime)
        (saved,) = gpu.each(compare_to_folder, comparison, judges, context=self.context,
                            seconds=budget.compare(comparison, judges))
        frame = saved.frame.assign(number=range(1, len(saved.frame) + 1), row=saved.frame["row"] + 1,
                                   column=saved.frame["column"] + 1)
        images = [{**verdict, "image": _file(path)}
                  for verdict, path in zip(_verdicts(frame, [*IMAGE_KEYS, *schema.of_step("rank")]),
                                           frame["image_path"])]
        return {"subject": comparison.subject, "images": images, "grid": _file(saved.folder / GRID_FILE)}

    @user_errors
    def judge_image(self, image: gr.FileData, subject: str, modality: str, prompt: str = "", judge: str = "") -> dict:
        """Judge one image (from any model, or a real one) against the expert checklist for its kind of image and
        subject: a vision-language judge answers each checklist question (P(yes), 0-1) and CLIP reads the same
        criteria (probability each holds, 0-1); also CLIP similarity to the prompt and to the subject (0-100)
        and what CLIP sees (its top 3 among the subject, known confusers and styles).

        Args:
            image: the image to judge, a PNG, JPEG or WebP: an http(s) URL or a data: URL (at most 10 MB and 8192 x 8192 pixels by default).
            subject: the medical subject the image should show, e.g. "melanoma".
            modality: the kind of image, which picks the checklist: histopathology, microscopy, x-ray, mri, ct, photograph, illustration or poster.
            prompt: the prompt the image was made from, which CLIP scores it against; empty: the subject.
            judge: the checklist judge, a vision-language model the app offers; empty: the app's default; "none": CLIP's checklist only.

        Returns:
            a dict with the subject, modality and prompt, `vlm_checklist` (per criterion: id, question, p_yes, raw_yes, require: the ids of its gates, skipped: a gate failed) and `vlm_score` (the mean P(yes) of those not skipped), `criteria` (CLIP's checklist: id, label, p, passed, require, skipped) and `criteria_score`, the CLIP scores, and which models judged.
        """
        offered = sorted({t.modality for t in self.templates})
        if modality not in offered:
            raise PlaygroundError(f"Unknown modality {modality!r}; choose one of: {', '.join(offered)}.")
        asked = Asked.check(subject, prompt)
        subject, prompt = asked.subject, asked.prompt or asked.subject
        judges = CompareForm(judge=judge or (self.runtime.judges or (NONE,))[0]).judges(self.runtime)
        frame = schema.new_frame([{"subject": subject, "modality": modality, "prompt": prompt, "image_problem": ""}])
        (judged,) = gpu.each(_judge_on_device, judges, frame, [_read_image(image)], self.context,
                             seconds=budget.LOAD_SECONDS + budget.OVERHEAD_SECONDS + budget.judging(1, judges))
        (verdict,) = _verdicts(judged, ["subject", "modality", "prompt"])
        return verdict

    @user_errors
    def confusion_warning(self, prompt: str, subject: str) -> str:
        """Before drawing: does a prompt read closer to something a text-to-image model is known to draw instead
        of the subject (e.g. "Graves' disease" drawn as a gravestone)? Compares the prompt's CLIP text
        embedding with the subject's and with the subject's documented confusers; instant, no image is drawn.

        Args:
            prompt: the prompt to check, e.g. "A photo of Graves' disease".
            subject: the medical subject the prompt should make the model draw, e.g. "Graves' disease".

        Returns:
            one warning per line (which confuser, the two similarities, a better wording), or a sentence saying there is none.
        """
        form = CompareForm(subject=subject, columns=((FREE, prompt),))
        form.resolve(self.templates, self.runtime)  # the subject and prompt checked as /compare checks them
        found = [*confusion_warnings(subject, [Column(prompt)], self.runtime.scorers[0], self.context.curated,
                                     self.templates), *form.notes(self.templates)]
        if found:
            return "\n".join(found)
        confusers = self.context.curated.confusers_of(subject)
        if not confusers:
            return (f"No confusion is documented for \u201c{subject.strip()}\u201d (prompt_library/confusions.yaml), "
                    "so there is none to check.")
        return f"No warning: the prompt reads closer to \u201c{subject.strip()}\u201d than to {', '.join(confusers)}."

    @user_errors
    def search_library(
        self, query: str = "", modality: str = "", template_id: str = "", model_id: str = "", tag: str = "",
        sort: str = "votes", page: int = 1, page_size: int = PAGE_SIZES[0],
    ) -> dict:
        """Search the shared prompt library: prompts people preferred for their images, with votes, scores and
        the settings that drew them, to reuse a prompt that worked.

        Args:
            query: text the prompt, subject, note or tags contain (case-insensitive); empty: every record.
            modality: only this kind of image (histopathology, x-ray, photograph, ...); empty: any.
            template_id: only prompts from this template (e.g. "photo-detailed"); empty: any.
            model_id: only images of this model; empty: any.
            tag: only records with this tag; empty: any.
            sort: "votes" (most first), "score" (best CLIP prompt score first, 0-100), "date" (newest first) or "oldest".
            page: which page of results, from 1.
            page_size: records per page, 1 to 100.

        Returns:
            a dict with `where` ("Page 1 of 3 · 45 records") and `records`: id, votes, clip_prompt, subject, modality, template, prompt, negative prompt, model, sampler, steps, guidance scale, seed, tags, note, date, and the preferred image's file with a URL where it has one.
        """
        library = Library()
        listing = library.page(page, page_size, sort, text=query, modality=modality, template_id=template_id,
                               model_id=model_id, tag=tag.strip())
        records = [{**record, **({"image": _file(path)} if path else {})}
                   for record, path in zip(listing.frame[list(TABLE_COLUMNS)].to_dict("records"),
                                           library.image_paths(listing.frame))]
        return {"where": listing.where, "records": records}


def register(runtime: Runtime, templates: TemplateSet, curated: Curated) -> None:
    """Add the tools to the Blocks being built, each as a named API endpoint (MCP serves them)."""
    tools = Tools(runtime, templates, curated)
    for tool in (tools.compare_prompts, tools.judge_image, tools.confusion_warning, tools.search_library):
        gr.api(tool, api_name=tool.__name__)
