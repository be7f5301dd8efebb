"""Benchmark: the loop a user writes vs the playground path vs the running app, on the same work.

Work: 4 templates x 3 guidance settings x 2 seeds = 24 images, scored with CLIP against their
prompts. Paths, run side by side in this one process on the same loaded models:
  (a) baseline: one diffusers pipeline call per image (as AUTOMATIC1111's X/Y/Z grid does), then
      open_clip scoring one image at a time;
  (b) playground: `engine.generate.run` (batched rows, each prompt encoded once) + `add_clip_scores`
      (batched images, cached text embeddings);
  (c) app: the same request through the running Gradio app with gradio_client (the app also saves
      PNGs with parameters, writes a ZIP, and adds the criteria checklist and probe); the client
      receives the images' URLs. (c+dl) is the same with the client downloading all 24 PNGs and
      the ZIP, for reference.
Two model sizes: the tiny offline model, and Stable Diffusion 1.x shapes with random weights
(`sd1-size-offline`, ViT-B-32-sized scorer) at a reduced resolution and step count for a CPU.
Also: share of (b) spent scoring, peak memory during each path, cold start (process start to the
first image), and CLIP guidance's cost per step. Writes bench/RESULTS.md with the machine.

    python bench/compare.py            # both sizes (about 6 minutes on 2 CPU cores)
    python bench/compare.py --only tiny
    python bench/compare.py --families # each family's tiny model and SDXL-size random weights,
                                       # in each model's GPU dtype (fp32 on a CPU); a GPU run
    python bench/compare.py --judges   # each judge's cost per image beside generation's
    python bench/compare.py --grid     # the grid: re-run after one edit, first batch, 8/24/64 images
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PLAYGROUND_HOME", str(Path(tempfile.gettempdir()) / "playground-bench"))
os.environ.setdefault("PLAYGROUND_LIBRARY", str(Path(os.environ["PLAYGROUND_HOME"]) / "library.sqlite"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import psutil  # noqa: E402  (after the environment is set)
import torch  # noqa: E402

from dataclasses import replace  # noqa: E402

from playground import clear_caches, load_pipeline, load_scorer, model_preset
from playground.comparison import Comparison
from playground.types import GuidanceSetting
from playground.models import families
from playground.catalog.templates import load_templates
from playground.engine.generate import run
from playground.models.loading import pick_device
from playground.config import TINY_PIPELINE_ID, TINY_SCORER_ID  # noqa: E402
from playground.models.offline import REAL_SIZE_PIPELINE_ID, REAL_SIZE_SCORER_ID  # noqa: E402
from playground.judges.clip import add_clip_scores

SUBJECT = "lung adenocarcinoma"
TEMPLATES = ["histopathology-short", "histopathology-detailed", "xray-short", "ct-detailed"]
GUIDANCE = [4.0, 7.5, 10.0]
SEEDS = 2
GRID_SIDE, GRID_STEPS = 128, 2  # the --grid bench: SD 1.x size, reduced for a CPU (as the main bench)
RERUN_SIDE = 256  # where a batch of 2 costs as much per image as a batch of 8 on a CPU (at 128 px it costs more)


@dataclass(frozen=True)
class Size:
    name: str
    model: str
    scorer: str
    steps: int
    side: int | None  # None: the model's native size


SIZES = {
    "tiny": Size("tiny", TINY_PIPELINE_ID, TINY_SCORER_ID, steps=4, side=None),
    "real": Size("SD 1.x size", REAL_SIZE_PIPELINE_ID, REAL_SIZE_SCORER_ID, steps=2, side=128),
}


class PeakMemory:
    """Samples this process's resident memory every 20 ms while in the `with` block."""

    def __enter__(self) -> PeakMemory:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            self._stop.wait(0.02)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, psutil.Process().memory_info().rss)

    @property
    def gib(self) -> float:
        return self.peak / 2**30


def comparison(size: Size) -> Comparison:
    return Comparison.from_templates(
        SUBJECT, TEMPLATES, load_templates(), settings=[GuidanceSetting(g, size.steps) for g in GUIDANCE], images_per_cell=SEEDS,
        model_id=size.model, guidance_scorer_id=size.scorer, width=size.side, height=size.side,
    )


def baseline(size: Size) -> dict:
    """(a): what a user writes by hand: one pipeline call per image, then one CLIP call per image."""
    import open_clip

    from playground.models.loading import open_clip_args

    pipe = load_pipeline(size.model)
    model_name, pretrained = open_clip_args(size.scorer)
    clip_model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained)
    clip_model.eval()
    tokenizer = open_clip.get_tokenizer(model_name)
    work = comparison(size)
    began = time.perf_counter()
    images, prompts = [], []
    for setting in work.settings:
        for column in work.columns:
            for seed in work.seeds:
                image = pipe(
                    column.prompt, negative_prompt=column.negative_prompt or None,
                    guidance_scale=setting.guidance_scale, num_inference_steps=setting.steps,
                    generator=torch.Generator("cpu").manual_seed(seed), width=size.side, height=size.side,
                ).images[0]
                images.append(image)
                prompts.append(column.prompt)
    generated = time.perf_counter()
    scores = []
    with torch.no_grad():
        for image, prompt in zip(images, prompts):
            image_features = clip_model.encode_image(preprocess(image).unsqueeze(0), normalize=True)
            text_features = clip_model.encode_text(tokenizer([prompt]), normalize=True)
            scores.append(float(100 * (image_features * text_features).sum().clamp(min=0)))
    done = time.perf_counter()
    return {"total": done - began, "scoring": done - generated, "images": len(images)}


def playground(size: Size) -> dict:
    """(b): the library path the app stands on."""
    scorer = load_scorer(size.scorer)
    began = time.perf_counter()
    result = run(comparison(size))
    generated = time.perf_counter()
    add_clip_scores(result, scorer)
    done = time.perf_counter()
    return {"total": done - began, "scoring": done - generated, "images": len(result.images)}


def through_app(size: Size, client) -> dict:
    """(c): the same request through the running app (no medical scorer, to match (b)'s scoring)."""
    work = comparison(size)
    columns = {}
    for i, column in enumerate(work.columns, start=1):
        columns |= {f"template_{i}": column.template_id, f"prompt_{i}": column.prompt}
    headers = ["guidance_scale", "steps", "scheduler", "negative_prompt", "clip_guidance_scale"]
    settings = {"headers": headers, "data": [[g, size.steps, "default", "", 0] for g in GUIDANCE]}
    began = time.perf_counter()
    gallery, *_ = client.predict(
        subject=SUBJECT, model=[size.model], scorer=size.scorer, medical_scorer="none", **columns, settings=settings,
        images_per_cell=SEEDS, seed=0, width=size.side or 0, height=size.side or 0, api_name="/compare",
    )
    grid = gallery["value"] if isinstance(gallery, dict) else gallery
    return {"total": time.perf_counter() - began, "scoring": float("nan"), "images": grid.count("<figcaption>")}


def launch_app(sizes: list[Size]) -> tuple:
    """The app on the benchmark's models, and two clients: URLs only, and downloading files."""
    from gradio_client import Client

    from playground.config import TINY_MEDICAL_SCORER_ID
    from playground.models.runtime import Runtime
    from playground.ui import build_demo, launch_kwargs, queued

    runtime = Runtime(tuple(s.model for s in sizes), tuple(s.scorer for s in sizes), (TINY_MEDICAL_SCORER_ID,),
                      offline=all(s.model.startswith("tiny-offline") for s in sizes))
    demo = queued(build_demo(runtime))
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **launch_kwargs())
    return demo, Client(url, verbose=False, download_files=False), Client(url, verbose=False)


def cold_start(size: Size) -> float:
    """Seconds from starting a fresh Python process to its first image (imports and loading included)."""
    code = (
        "from playground import Column, Comparison, GuidanceSetting\n"
        "from playground.engine.generate import run\n"
        f"run(Comparison('x', [Column('a photo')], [GuidanceSetting(7.5, {size.steps})], images_per_cell=1,"
        f" model_id={size.model!r}, width={size.side!r}, height={size.side!r}))\n"
    )
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - began


def guidance_cost(size: Size) -> tuple[float, float]:
    """Seconds per denoising step for 2 images, without and with CLIP guidance."""
    per_step = []
    for clip_scale in (0.0, 100.0):
        work = Comparison(SUBJECT, comparison(size).columns[:1], [GuidanceSetting(7.5, size.steps, clip_guidance_scale=clip_scale)],
                          images_per_cell=2, model_id=size.model, guidance_scorer_id=size.scorer,
                          width=size.side, height=size.side)
        began = time.perf_counter()
        run(work)
        per_step.append((time.perf_counter() - began) / size.steps)
    return per_step[0], per_step[1]


def measure(size: Size, clients: tuple, repeats: int) -> dict:
    load_pipeline(size.model)  # warm: build (first time) and load outside the timings
    load_scorer(size.scorer)
    best: dict[str, dict] = {}
    for _ in range(repeats):  # alternate the paths so drift hits all alike; keep each one's best
        for name, path in (("a", lambda: baseline(size)), ("b", lambda: playground(size)),
                           ("c", lambda: through_app(size, clients[0])), ("c+dl", lambda: through_app(size, clients[1]))):
            gc.collect()
            with PeakMemory() as memory:
                timing = path()
            timing["peak_gib"] = memory.gib
            if name not in best or timing["total"] < best[name]["total"]:
                best[name] = timing
    plain, guided = guidance_cost(size)
    return {"paths": best, "cold_start": cold_start(size), "guidance": (plain, guided)}


def commit_id() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip() or "unknown"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    device, dtype = pick_device()
    gpu = f", {torch.cuda.get_device_name(0)}" if device.type == "cuda" else ""
    return (f"{cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM{gpu}; "
            f"device {device.type} ({str(dtype).removeprefix('torch.')}); Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def report(results: dict[str, dict]) -> str:
    lines = [
        "| model | path | total s | s/image | scoring s | peak RSS GiB |",
        "|---|---|---|---|---|---|",
    ]
    ratios = ["", "| model | b/a | c/b | scoring share of b | cold start s | step s (plain) | step s (CLIP guidance) | guidance cost |",
              "|---|---|---|---|---|---|---|---|"]
    for key, result in results.items():
        size, paths = SIZES[key], result["paths"]
        for name, label in (("a", "(a) naive loop"), ("b", "(b) playground"), ("c", "(c) app via gradio_client"),
                            ("c+dl", "(c+dl) app, client downloads files")):
            p = paths[name]
            scoring = "" if p["scoring"] != p["scoring"] else f"{p['scoring']:.2f}"
            lines.append(f"| {size.name} | {label} | {p['total']:.2f} | {p['total'] / p['images']:.3f} | {scoring} | "
                         f"{p['peak_gib']:.2f} |")
        a, b, c = (paths[n]["total"] for n in "abc")
        plain, guided = result["guidance"]
        ratios.append(f"| {size.name} | {b / a:.2f} | {c / b:.2f} | {paths['b']['scoring'] / b:.1%} | "
                      f"{result['cold_start']:.1f} | {plain:.3f} | {guided:.3f} | x{guided / plain:.1f} |")
    return "\n".join(lines + ratios)


FAMILY_MODELS = ["tiny-offline", "tiny-offline-sdxl", "tiny-offline-sd3", "tiny-offline-flux", "tiny-offline-pixart",
                 "tiny-offline-sana", "sdxl-size-offline"]


def family_timing(model_id: str, steps: int, side: int | None) -> dict:
    """One 4-image row of one model (loaded and warmed first): seconds per image-step, peak memory."""
    load_pipeline(model_id)
    setting = model_preset(model_id).settings[0]
    work = Comparison(SUBJECT, comparison(SIZES["tiny"]).columns[:2], [replace(setting, steps=steps)],
                      images_per_cell=2, model_id=model_id, width=side, height=side)
    run(replace(work, settings=[replace(setting, steps=1)], images_per_cell=1))  # warm-up (kernels, caches)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with PeakMemory() as memory:
        began = time.perf_counter()
        result = run(work)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds = time.perf_counter() - began
    gpu_gib = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    pipe = load_pipeline(model_id)
    return {"model": model_id, "family": families.of_pipeline(pipe).name, "dtype": str(pipe.dtype).removeprefix("torch."),
            "size": f"{result.images[0].width}x{result.images[0].height}", "images": len(result.images), "steps": steps,
            "seconds": seconds, "per_image_step": seconds / (len(result.images) * steps),
            "rss_gib": memory.gib, "gpu_gib": gpu_gib}


def families_report(steps: int) -> str:
    """Each family's tiny model, then SDXL shapes with random weights (on a GPU only: 13 GB in fp32,
    minutes per image on a CPU)."""
    models = FAMILY_MODELS if torch.cuda.is_available() else FAMILY_MODELS[:-1]
    rows = []
    for model_id in models:
        print(f"measuring {model_id} ...", flush=True)
        rows.append(family_timing(model_id, steps, 1024 if model_id == "sdxl-size-offline" else None))
        clear_caches()
    lines = ["| model | family | dtype | size | images x steps | total s | s per image-step | peak RSS GiB | peak GPU GiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['family']} | {r['dtype']} | {r['size']} | {r['images']} x {r['steps']} | "
              f"{r['seconds']:.2f} | {r['per_image_step']:.4f} | {r['rss_gib']:.2f} | "
              + ("no GPU" if r["gpu_gib"] != r["gpu_gib"] else f"{r['gpu_gib']:.2f}") + " |" for r in rows]
    return "\n".join(lines)


JUDGE_IMAGES = 4


def judge_costs() -> str:
    """Seconds per image of each judge, beside one image's generation at SD 1.x size (512 px,
    20 steps, extrapolated from a measured step): which judges stay within 25% of generating."""
    from PIL import Image

    from playground.catalog.curated import load_curated
    from playground.config import TINY_VLM_ID
    from playground.models.vlm import load_vlm
    from playground.models.xray import finding_probabilities, load_classifier

    images = [Image.new("RGB", (512, 512), (40 * i, 90, 160)) for i in range(JUDGE_IMAGES)]
    questions = [c.question for c in load_curated().criteria_for("x-ray", "cardiomegaly")]
    clip = load_scorer(REAL_SIZE_SCORER_ID)
    domain = load_scorer("tiny-offline-hf-clip")
    judge = load_vlm(TINY_VLM_ID)
    _, xray = load_classifier(offline=True)
    costs = {
        f"general CLIP ({REAL_SIZE_SCORER_ID}, ViT-B/32 size)": lambda: clip.scores(images, ["a chest x-ray"] * len(images)),
        "domain CLIP (tiny-offline-hf-clip, toy size)": lambda: domain.scores(images, ["a chest x-ray"] * len(images)),
        f"checklist judge ({TINY_VLM_ID}, toy size; {len(questions)} questions)":
            lambda: judge.p_yes([im for im in images for _ in questions], questions * len(images)),
        "x-ray classifier (DenseNet-121, real size)": lambda: finding_probabilities(xray, images),
    }
    per_image = {}
    for name, cost in costs.items():
        cost()  # warm
        began = time.perf_counter()
        cost()
        per_image[name] = (time.perf_counter() - began) / len(images)
    step = family_timing(REAL_SIZE_PIPELINE_ID, 1, 512)["per_image_step"]
    generation = 20 * step
    lines = [f"Generation: {REAL_SIZE_PIPELINE_ID} at 512 px, {step:.2f} s per image-step (measured, 4 images in one "
             f"batch), so {generation:.1f} s per image at 20 steps.", "",
             "| judge | s per image | share of generation (20 steps) | within 25% |", "|---|---|---|---|"]
    lines += [f"| {name} | {seconds:.3f} | {seconds / generation:.2%} | {'yes' if seconds <= 0.25 * generation else 'no'} |"
              for name, seconds in per_image.items()]
    return "\n".join(lines)


def _grid(columns: int, rows: int, seeds: int, base_seed: int = 0, words: str = "") -> Comparison:
    """An SD 1.x-size grid of `columns` prompts x `rows` guidance rows x `seeds` seeds (`words`
    makes every prompt new, so nothing comes from the cache)."""
    prompts = [f"{t} {words}".strip() for t in TEMPLATES * (columns // len(TEMPLATES) + 1)][:columns]
    base = Comparison.from_templates(SUBJECT, TEMPLATES[:1], load_templates()).columns[0]
    return Comparison(SUBJECT, [replace(base, prompt=f"{SUBJECT}, {p}", template_id=p.split()[0]) for p in prompts],
                      [GuidanceSetting(4.0 + 2.5 * r, GRID_STEPS) for r in range(rows)], images_per_cell=seeds,
                      base_seed=base_seed, model_id=REAL_SIZE_PIPELINE_ID, guidance_scorer_id=REAL_SIZE_SCORER_ID,
                      width=GRID_SIDE, height=GRID_SIDE)


def _timed_stream(comparison: Comparison, folder: Path) -> tuple[float, float, int]:
    """Seconds to the first batch on screen (drawn, judged, saved), seconds in all, batches: the
    app's path (`stream_to_folder`)."""
    from playground.workflow.compare import stream_to_folder

    began, first, batches = time.perf_counter(), None, 0
    for _ in stream_to_folder(comparison, REAL_SIZE_SCORER_ID, folder):
        batches += 1
        first = first or time.perf_counter() - began
    return first, time.perf_counter() - began, batches


def grid_report() -> str:
    """#12's figures at SD 1.x size: re-running after editing 1 of 4 columns against the first
    run (image cache on), the first batch's latency against an even share of the grid, and
    seconds per image and peak memory as the grid grows."""
    os.environ["PLAYGROUND_IMAGE_CACHE_MB"] = "2048"
    home = Path(tempfile.mkdtemp(prefix="grid-bench-"))
    os.environ["PLAYGROUND_HOME"] = str(home)
    load_pipeline(REAL_SIZE_PIPELINE_ID), load_scorer(REAL_SIZE_SCORER_ID)
    _timed_stream(_grid(1, 1, 1, words="warm-up"), home / "warm")  # model loads and first calls out of the way
    lines = ["| measure | value | target |", "|---|---|---|"]
    for side in (GRID_SIDE, RERUN_SIDE):
        first_grid = replace(_grid(4, 1, 2, base_seed=100 + side), width=side, height=side)
        _, first, _ = _timed_stream(first_grid, home / f"first-{side}")
        edited = replace(first_grid, columns=[*first_grid.columns[:3],
                                              replace(first_grid.columns[3], prompt=first_grid.columns[3].prompt + ", edited")])
        _, again, _ = _timed_stream(edited, home / f"edited-{side}")
        lines += [f"| {side} px: first run, 4 columns x 2 seeds (8 images, one batch) | {first:.1f} s | |",
                  f"| {side} px: re-run after editing column 4 (2 images drawn, 6 from the cache) | {again:.1f} s | |",
                  f"| {side} px: re-run / first run | {again / first:.2f} | ≤ 0.30 |"]
    os.environ["PLAYGROUND_IMAGE_CACHE_MB"] = "0"
    os.environ["PLAYGROUND_MAX_BATCH"] = "4"
    latency, total, batches = _timed_stream(_grid(4, 2, 2, words="latency"), home / "latency")
    lines.append(f"| first batch on screen / (grid time / batches), 16 images in {batches} batches of 4 | "
                 f"{latency / (total / batches):.2f} ({latency:.1f} s of {total:.1f} s) | ≤ 1.2 |")
    os.environ["PLAYGROUND_MAX_BATCH"] = "8"
    lines += ["", "| images | grid | s per image | peak memory (GiB) | above idle (GiB) |", "|---|---|---|---|---|"]
    for columns, rows, seeds in ((4, 1, 2), (4, 3, 2), (4, 4, 4)):
        comparison = _grid(columns, rows, seeds, words=f"scale {columns * rows * seeds}")
        gc.collect()
        idle = psutil.Process().memory_info().rss / 2**30
        with PeakMemory() as peak:
            _, seconds, _ = _timed_stream(comparison, home / f"scale-{comparison.n_images}")
        lines.append(f"| {comparison.n_images} | {columns} x {rows} x {seeds} | {seconds / comparison.n_images:.2f} | "
                     f"{peak.gib:.2f} | {peak.gib - idle:.2f} |")
    return "\n".join(lines)


def write_section(path: Path, title: str, body: str) -> None:
    """Replace (or add) the section `## title` of the results file, keeping the others."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start = text.find(f"\n## {title}\n")
    end = text.find("\n## ", start + 1) if start >= 0 else -1
    section = f"\n## {title}\n\n{body}\n"
    text = text[:start] + section + (text[end:] if end >= 0 else "") if start >= 0 else text.rstrip("\n") + "\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=list(SIZES), help="run one model size")
    parser.add_argument("--repeats", type=int, default=None, help="runs of each path (default: 3 tiny, 1 real)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--families", action="store_true", help="time each model family instead")
    parser.add_argument("--steps", type=int, default=10, help="denoising steps per image with --families")
    parser.add_argument("--judges", action="store_true", help="time each judge per image beside generation")
    parser.add_argument("--grid", action="store_true", help="the grid's cache, first batch and scaling figures")
    args = parser.parse_args()
    sections = {
        "grid": ("The grid: cache, streaming, scaling", grid_report,
                 f"{REAL_SIZE_PIPELINE_ID} (Stable Diffusion 1.x shapes, random weights) at {GRID_SIDE} px, "
                 f"{GRID_STEPS} steps, through the app's path (`workflow.stream_to_folder`: draw, judge with "
                 f"{REAL_SIZE_SCORER_ID} (CLIP, criteria, probe), save PNGs, grid PNG and ZIP after every batch), "
                 "warm models, one process. Batches of 8 unless said."),
        "judges": ("Judges' cost", judge_costs,
                   f"{JUDGE_IMAGES} images of 512 x 512 px through each judge (after a warm-up run), per image; the "
                   "checklist judge answers the x-ray checklist of cardiomegaly."),
        "families": ("Model families", lambda: families_report(args.steps),
                     "2 prompt columns x 2 seeds = 4 images in one batched row, each model's first preset row at "
                     f"{args.steps} steps, native size (SDXL size at 1024 px), after a warm-up image."),
    }
    for flag, (title, measure_fn, work) in sections.items():
        if getattr(args, flag):
            table = measure_fn()
            print(table)
            write_section(args.output, title, f"Written by `python bench/compare.py --{flag}` at commit {commit_id()} "
                          f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\nMachine: {machine()}.\n\n"
                          f"Work: {work}\n\n" + table)
            return
    keys = [args.only] if args.only else list(SIZES)
    demo, *clients = launch_app([SIZES[k] for k in keys])
    results = {}
    try:
        for key in keys:
            print(f"measuring {SIZES[key].name} ...", flush=True)
            results[key] = measure(SIZES[key], tuple(clients), args.repeats or (5 if key == "tiny" else 1))
    finally:
        demo.close()
    table = report(results)
    print(table)
    commit = commit_id()
    work = (f"{len(TEMPLATES)} templates x {len(GUIDANCE)} guidance settings x {SEEDS} seeds = "
            f"{len(TEMPLATES) * len(GUIDANCE) * SEEDS} images; "
            + "; ".join(f"{SIZES[k].name}: {SIZES[k].steps} steps at {SIZES[k].side or 'native'} px" for k in keys))
    write_section(
        args.output, "The loop, the playground, the app",
        f"Written by `python bench/compare.py` at commit {commit} on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n"
        f"Machine: {machine()}.\n\nWork: {work}. Paths as in bench/compare.py's docstring; each path's "
        "best of its repeats; ratios from the same run.\n\n" + table,
    )
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
