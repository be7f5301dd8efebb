"""The Gradio app, assembled from one module per tab. No model, database or file logic here."""

from __future__ import annotations

import gradio as gr

from ..catalog.curated import Curated, load_curated
from ..catalog.templates import TemplateSet, load_templates
from ..config import get_settings
from ..models.runtime import Runtime, detect_runtime
from ..render.markdown import text
from . import arena_tab, compare, educators, library_tab, mcp_tools, study_tab
from .judge_tab import build as build_judge_tab

TITLE = "Medical Text-to-Image Prompt Playground"
INTRO = (
    f"# {TITLE}\n"
    "What do general text-to-image models know about medicine? Put one subject through several "
    "prompt templates and guidance settings, side by side on the same seeds, each image scored by CLIP."
)


def build_demo(
    runtime: Runtime | None = None, templates: TemplateSet | None = None, curated: Curated | None = None
) -> gr.Blocks:
    """The whole app as a `gr.Blocks`, not launched (tests and app.py launch it)."""
    runtime = runtime or detect_runtime()
    templates = templates or load_templates()
    curated = curated or load_curated()
    # Gradio's own copies of served files: every half hour, those older than two hours are deleted
    with gr.Blocks(title=TITLE, delete_cache=(1800, 7200)) as demo:
        gr.Markdown(INTRO)
        if runtime.banner:
            gr.Markdown(runtime.banner, elem_id="offline-banner")
        problems = [*templates.problems, *curated.problems]
        if problems:
            gr.Markdown(
                "**Some prompt_library entries were skipped:**\n" + "\n".join(f"- {text(p)}" for p in problems),
                elem_id="data-problems",
            )
        with gr.Tabs() as tabs:
            with gr.Tab("Compare", id="compare"):
                compare_tab = compare.build(runtime, templates, curated)
                compare_tab.on_load(demo)
            educators.build(templates, curated, compare_tab, tabs)
            library_tab.build(runtime, templates, compare_tab, tabs)
            arena_tab.build(templates, curated, compare_tab)
            study_tab.build(compare_tab)
            build_judge_tab(runtime, templates, curated)
        mcp_tools.register(runtime, templates, curated)
    return demo


def launch_kwargs() -> dict:
    """Files may be served from the generated-images folder only (never a database, a model or a
    sweep's run folder, wherever an operator puts them); uploads are size-limited; Gradio's traffic
    monitoring pages are off unless PLAYGROUND_MONITORING=1."""
    settings = get_settings()
    settings.outputs_dir.mkdir(parents=True, exist_ok=True)
    return {
        "allowed_paths": [str(settings.outputs_dir)],
        "blocked_paths": [str(settings.library_path) + suffix for suffix in ("", "-wal", "-shm")]
        + [str(settings.models_dir), str(settings.runs_dir)],
        "max_file_size": f"{settings.max_upload_mb}mb",
        "enable_monitoring": settings.monitoring,
        "mcp_server": mcp_tools.serving(settings),
    }


def queued(demo: gr.Blocks) -> gr.Blocks:
    """The queue a public Space needs: bounded size, one generation at a time by default."""
    return demo.queue(max_size=get_settings().queue_size, default_concurrency_limit=1)
