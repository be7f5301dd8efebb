"""Real size: where a real image's time goes, and what the fast options save (issue #25).

Every part runs at the real architecture with random weights, on one device, in one run, so the
ratios compare like with like:
- the matrix-multiply peak of the device (the yardstick for "close to the limit");
- SD 1.x at 512 px (bench/real_configs.json): the CLIP text encoder, one UNet step with and
  without CFG (achieved FLOP/s from torch.utils.flop_counter), the full VAE decode and the tiny
  decoder (diffusers' AutoencoderTiny at TAESD's config), a 20-step image and a one-step draft;
- a CLIP-guided step (the playground's ClipGuidance, a ViT-B/32-size guiding CLIP) through the
  full VAE and through the tiny decoder, beside a plain step;
- the checklist judge at SmolVLM2-2.2B's size (models/tiny_vlm.py's builder at the real sizes)
  on one 512 px image and 5 questions: one question at a time (the old path) and all questions
  from one reading of the image, with image splitting on and off.

    python bench/real_size.py --write                                 # CPU, float32, into bench/RESULTS.md
    python bench/real_size.py --device cuda --dtype bfloat16 --write  # on a GPU

Not a test: on a 2-core CPU it takes about an hour.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CONFIGS = json.loads((ROOT / "bench" / "real_configs.json").read_text())
SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"
PLAIN = "plain step, one image (beside the guided ones)"
STEPS, QUESTIONS = 20, [
    "Is this a chest radiograph?", "Is the heart enlarged?", "Are both lungs visible?",
    "Is the image free of text and labels?", "Are the ribs drawn with a plausible count?"]


@dataclass
class Bench:
    """The device, its dtype, and every measured row: seconds and (where counted) FLOPs."""

    device: torch.device
    dtype: torch.dtype
    side: int = 512
    peak_kernel: str = "matmul"
    seconds: dict[str, float] = field(default_factory=dict)
    flops: dict[str, float] = field(default_factory=dict)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def time(self, name: str, work: Callable[[], object], repeats: int = 1, count: bool = False) -> float:
        """Median seconds of `repeats` runs after one warm-up (whose FLOPs are counted if asked)."""
        if count:
            with FlopCounterMode(display=False) as counter:
                work()
            self.flops[name] = counter.get_total_flops()
        else:
            work()
        self.sync()
        runs = []
        for _ in range(repeats):
            began = time.perf_counter()
            work()
            self.sync()
            runs.append(time.perf_counter() - began)
        self.seconds[name] = statistics.median(runs)
        print(f"{name}: {self.seconds[name]:.4f} s" + (f", {self.flops[name] / 1e12:.3f} TFLOP" if count else ""),
              flush=True)
        return self.seconds[name]

    def rate(self, name: str) -> float:
        return self.flops[name] / self.seconds[name]


def config(key: str) -> dict:
    drop = {"torch_dtype", "dtype", "transformers_version", "architectures"}
    return {k: v for k, v in CONFIGS[key]["config"].items() if not k.startswith("_") and k not in drop}


def matmul_peak(bench: Bench) -> None:
    """The device's achieved peak: the fastest of several large products after warm-ups (the
    roofline's flat part; a median would fold in the machine's other load), through both of
    torch's dense kernels: a matrix product (BLAS) and the same product as a 1x1 convolution
    (oneDNN on a CPU, cuDNN on a GPU), whichever is faster here."""
    n = 8192 if bench.device.type == "cuda" else 4096
    a = torch.randn(n, n, device=bench.device, dtype=bench.dtype)
    b = torch.randn(n, n, device=bench.device, dtype=bench.dtype)
    side = 64
    x = torch.randn(1, n, n // side, side, device=bench.device, dtype=bench.dtype)  # n input channels, n positions
    w = b.view(n, n, 1, 1)
    fastest = {}
    for name, work in (("matmul", lambda: a @ b), ("1x1 convolution", lambda: torch.nn.functional.conv2d(x, w))):
        for _ in range(3):
            work()
        runs = []
        for _ in range(10 if bench.device.type == "cuda" else 5):
            bench.sync()
            began = time.perf_counter()
            work()
            bench.sync()
            runs.append(time.perf_counter() - began)
        fastest[name] = min(runs)
        print(f"{name}: {2.0 * n**3 / fastest[name] / 1e12:.3f} TFLOP/s", flush=True)
    bench.flops["matmul"], bench.seconds["matmul"] = 2.0 * n**3, min(fastest.values())
    bench.peak_kernel = min(fastest, key=fastest.get)


def build(bench: Bench, module: torch.nn.Module) -> torch.nn.Module:
    return module.to(bench.device, bench.dtype).eval().requires_grad_(False)


def stable_diffusion(bench: Bench) -> dict:
    """SD 1.x components at the real configs; times the text encoder, the UNet step (CFG batch
    of 2 and a single image), the full VAE decode and the tiny decoder at 512 px."""
    import diffusers
    import transformers

    unet = build(bench, diffusers.UNet2DConditionModel.from_config(config(f"{SD}/unet")))
    vae = build(bench, diffusers.AutoencoderKL.from_config(config(f"{SD}/vae")))
    tiny = build(bench, diffusers.AutoencoderTiny())  # diffusers' defaults are madebyollin/taesd's config
    text = build(bench, transformers.CLIPTextModel(transformers.CLIPTextConfig(**config(f"{SD}/text_encoder"))))
    latents = torch.randn(2, 4, bench.side // 8, bench.side // 8, device=bench.device, dtype=bench.dtype)
    context = torch.randn(2, 77, 768, device=bench.device, dtype=bench.dtype)
    tokens = torch.randint(0, 49408, (2, 77), device=bench.device)
    t = torch.tensor([500], device=bench.device)
    repeats = 3 if bench.device.type == "cuda" else 1
    with torch.no_grad():
        bench.time("text encoder (prompt and negative)", lambda: text(tokens), repeats, count=True)
        bench.time("UNet step, CFG (batch 2)", lambda: unet(latents, t, encoder_hidden_states=context), repeats, count=True)
        bench.time("UNet step, one image", lambda: unet(latents[:1], t, encoder_hidden_states=context[:1]), repeats,
                   count=True)
        bench.time("VAE decode, full", lambda: vae.decode(latents[:1] / vae.config.scaling_factor), repeats, count=True)
        bench.time("VAE decode, tiny (TAESD)", lambda: tiny.decode(latents[:1]), repeats, count=True)
    return {"unet": unet, "vae": vae, "tiny": tiny, "latents": latents[:1], "context": context[:1], "t": t}


def clip_guidance(bench: Bench, sd: dict) -> None:
    """A plain denoising step beside a CLIP-guided one (the x0 estimate decoded, cut out, embedded
    and differentiated), through the full VAE and through the tiny decoder."""
    import open_clip

    from playground.engine.guidance import ClipGuidance
    from playground.models.clip_model import ClipScorer

    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32")  # random weights, real size
    model = build(bench, model)
    scorer = ClipScorer("vit-b-32-random", model, preprocess, open_clip.get_tokenizer("ViT-B-32"), bench.device,
                        input_dtype=bench.dtype)
    unet, latents, context, t = sd["unet"], sd["latents"], sd["context"], sd["t"]
    repeats = 3 if bench.device.type == "cuda" else 1

    def plain() -> None:
        with torch.no_grad():
            unet(latents, t, encoder_hidden_states=context)

    bench.time(PLAIN, plain, repeats)  # measured again here, beside the guided steps
    for name, decoder in (("full VAE", sd["vae"]), ("tiny decoder", sd["tiny"])):
        guide = ClipGuidance(scorer, ["a chest radiograph"], 100.0, decoder, cutouts=4)

        def guided() -> None:
            plain()
            guide.gradient(latents)

        seconds = bench.time(f"CLIP-guided step ({name})", guided, repeats)
        print(f"  x{seconds / bench.seconds[PLAIN]:.2f} a plain step", flush=True)


def checklist_judge(bench: Bench) -> None:
    """SmolVLM2-2.2B-size judge on one 512 px image, 5 questions: old path vs one reading, splitting on and off."""
    from PIL import Image

    from playground.models import tiny_vlm
    from playground.models.offline import _read_config
    from playground.models.vlm import VisionLanguageModel, one_frame

    cfg, _ = _read_config("tiny-offline-vlm")
    real = json.loads(json.dumps(cfg))
    real["vision"].update(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                          image_size=384, patch_size=14)
    real["text"].update(hidden_size=2048, intermediate_size=8192, num_hidden_layers=24, num_attention_heads=32,
                        num_key_value_heads=32, rope_theta=273768.0)
    real["scale_factor"], real["image_processor"]["split_factor"] = 3, 4
    processor = tiny_vlm.build_processor(real)
    with torch.device(bench.device):
        model = tiny_vlm.build_model(real, processor.tokenizer).to(bench.dtype).requires_grad_(False)
    image = Image.fromarray((torch.rand(bench.side, bench.side, 3) * 255).byte().numpy())
    for split in (True, False):
        if not split:
            one_frame(processor)  # PLAYGROUND_JUDGE_SPLIT=off
        judge = VisionLanguageModel("smolvlm2-2.2b-size", model, processor)
        frames = judge.inputs([image], QUESTIONS[:1])["pixel_values"].shape[1]
        label = f"splitting {'on' if split else 'off'}, {frames} frames"
        bench.time(f"checklist judge, one question at a time ({label})",
                   lambda: judge.p_yes([image] * len(QUESTIONS), QUESTIONS), count=True)
        bench.time(f"checklist judge, one reading ({label})",
                   lambda: judge.checklist_p_yes([image], [QUESTIONS]), count=True)
    del model


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(bench: Bench) -> str:
    if bench.device.type == "cuda":
        return f"{torch.cuda.get_device_name()} ({bench.dtype})"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads ({bench.dtype})"


def report(bench: Bench) -> str:
    """The section for bench/RESULTS.md: every row, then the issue's targets as measured ratios."""
    s, f = bench.seconds, bench.flops
    peak = bench.rate("matmul")
    image = s["text encoder (prompt and negative)"] + STEPS * s["UNet step, CFG (batch 2)"] + s["VAE decode, full"]
    draft_full = s["UNet step, one image"] + s["VAE decode, full"]
    draft_tiny = s["UNet step, one image"] + s["VAE decode, tiny (TAESD)"]
    lines = [f"`python bench/real_size.py` at commit {commit()} on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
             f"{machine(bench)}, torch {torch.__version__}. Random weights at the real sizes; one run, one device.", "",
             f"Dense-product peak measured here: {peak / 1e12:.3f} TFLOP/s (the faster of a {bench.peak_kernel} "
             "and its twin: a matrix product and the same product as a 1x1 convolution).", "",
             "| part | seconds | TFLOP | share of the peak |", "|---|---|---|---|"]
    for name, seconds in s.items():
        if name == "matmul":
            continue
        rate = f"{f[name] / seconds / peak:.0%}" if name in f else ""
        lines.append(f"| {name} | {seconds:.4f} | {f[name] / 1e12:.3f} | {rate} |" if name in f
                     else f"| {name} | {seconds:.4f} | | |")
    lines += ["", f"A 20-step SD 1.x image at {bench.side} px (text encoder, 20 CFG steps, full decode): {image:.2f} s.", "",
              "| target | measured | met |", "|---|---|---|"]
    targets = [("2. tiny decode / full decode <= 0.1", s["VAE decode, tiny (TAESD)"] / s["VAE decode, full"], 0.1),
               ("2. one-step draft (tiny decode) / today's one-step image <= 0.35", draft_tiny / draft_full, 0.35),
               ("3. CLIP-guided step through the tiny decoder / plain step <= 1.6",
                s["CLIP-guided step (tiny decoder)"] / s[PLAIN], 1.6),
               ("   (the same through the full VAE, for comparison)", s["CLIP-guided step (full VAE)"] / s[PLAIN], None)]
    for name in [n for n in s if n.startswith("checklist judge, one reading")]:
        targets.append((f"1. {name} / 20-step image <= 0.25", s[name] / image, 0.25))
    targets += [("4. UNet step achieved / dense-product peak >= 0.6", bench.rate("UNet step, CFG (batch 2)") / peak, -0.6),
                ("4. full decode achieved / dense-product peak >= 0.6", bench.rate("VAE decode, full") / peak, -0.6)]
    for name, value, limit in targets:  # a negative limit is a floor
        met = "" if limit is None else "yes" if (value <= limit if limit > 0 else value >= -limit) else "no"
        lines.append(f"| {name} | {value:.3f} | {met} |")
    return "\n".join(lines) + "\n"


def write(section: str, title: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text()
    heading = f"## {title}\n"
    if heading in text:
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + text[end + 1 if end >= 0 else len(text):]
    path.write_text(text.rstrip() + f"\n\n{heading}\n{section}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--side", type=int, default=512, help="image side in pixels (512 for the record; less for a smoke run)")
    parser.add_argument("--skip-judge", action="store_true", help="leave out the checklist judge (the longest part)")
    parser.add_argument("--write", action="store_true", help="record the section in bench/RESULTS.md")
    args = parser.parse_args()
    bench = Bench(torch.device(args.device), getattr(torch, args.dtype), args.side)
    matmul_peak(bench)
    sd = stable_diffusion(bench)
    clip_guidance(bench, sd)
    del sd
    if not args.skip_judge:
        checklist_judge(bench)
    section = report(bench)
    print(section)
    if args.write:
        where = "CPU" if bench.device.type == "cpu" else f"GPU, {args.dtype}"
        write(section, f"Real size ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
