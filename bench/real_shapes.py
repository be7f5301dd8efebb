"""Real shapes: every family's models at their real Hub configs, with random weights.

Tiny configs hide shape bugs (a pooled projection of the wrong width, a packed latent of the wrong
length, a caption length the transformer does not take). This script builds each component at the
config its Hub repo ships (bench/real_configs.json: the values and where each was read) and runs
what the playground runs: the text encoders on one prompt's tokens, one denoising step of the
denoiser with the inputs its pipeline gives it, and one VAE decode, at a small size (256 px).
Components that fit in this machine's memory run on the CPU in fp32 with random weights; the ones
that do not (FLUX's 12B transformer, the T5-XXL and Gemma-2 text encoders) run on the meta device,
which checks every shape without memory or time. Not a test: it takes minutes and about 11 GB.

    python bench/real_shapes.py              # writes the "Real shapes" section of bench/RESULTS.md
"""

from __future__ import annotations

import gc
import json
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = json.loads((ROOT / "bench" / "real_configs.json").read_text())
SIDE = 256  # pixels: small enough for a CPU, large enough for every patching and downsampling
SD_TOKENS, T5_TOKENS, GEMMA_TOKENS = 77, 256, 300  # what each family's pipeline pads its prompts to


@dataclass
class Check:
    family: str
    component: str
    device: str
    shapes: str = ""
    seconds: float = 0.0
    error: str = ""


def config(key: str) -> dict:
    """The architecture of a component: its config without bookkeeping and its saved dtype (every
    component is built in fp32 here)."""
    drop = {"torch_dtype", "dtype", "transformers_version", "architectures"}
    return {k: v for k, v in CONFIGS[key]["config"].items() if not k.startswith("_") and k not in drop}


def diffusers_model(class_name: str, key: str, device: str):
    import diffusers

    with torch.device("meta" if device == "meta" else "cpu"):
        return getattr(diffusers, class_name).from_config(config(key)).eval()


def transformers_model(model_class: str, config_class: str, key: str, device: str, **extra):
    import transformers

    settings = getattr(transformers, config_class)(**{**config(key), **extra})
    with torch.device("meta" if device == "meta" else "cpu"):
        return getattr(transformers, model_class)(settings).eval()


def tokens(count: int, vocab: int, device: str) -> torch.Tensor:
    return torch.randint(0, vocab, (1, count), device=device)


def run(checks: list[Check], family: str, component: str, device: str, work: Callable[[str], str]) -> None:
    """One component's check; a failure is recorded with its message (the point of the script)."""
    check = Check(family, component, device)
    began = time.perf_counter()
    try:
        with torch.no_grad():
            check.shapes = work(device)
    except Exception as exc:  # noqa: BLE001 - every failure is a finding to record
        check.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        traceback.print_exc()
    check.seconds = time.perf_counter() - began
    checks.append(check)
    print(f"{family:7} {component:28} {device:5} {check.seconds:7.1f}s  {check.error or check.shapes}", flush=True)
    gc.collect()


def shape(x) -> str:
    return "x".join(str(d) for d in x.shape)


def decoder(class_name: str, key: str, channels: int, factor: int) -> Callable[[str], str]:
    """One VAE decode of a latent `SIDE // factor` wide with `channels` channels."""
    def work(device: str) -> str:
        model = diffusers_model(class_name, key, device)
        out = model.decode(torch.randn(1, channels, SIDE // factor, SIDE // factor, device=device)).sample
        return f"decode -> {shape(out)}"

    return work


def encoder(model_class: str, config_class: str, key: str, n_tokens: int) -> Callable[[str], str]:
    """One pass of a text encoder over `n_tokens` random tokens: its last hidden state's shape."""
    def work(device: str) -> str:
        model = transformers_model(model_class, config_class, key, device)
        out = model(tokens(n_tokens, model.config.vocab_size, device)).last_hidden_state
        return f"tokens 1x{n_tokens} -> {shape(out)}"

    return work


# --- the families -------------------------------------------------------------------------------

def sd(checks: list[Check]) -> None:
    repo = "stable-diffusion-v1-5/stable-diffusion-v1-5"

    text = encoder("CLIPTextModel", "CLIPTextConfig", f"{repo}/text_encoder", SD_TOKENS)

    def unet(device):
        model = diffusers_model("UNet2DConditionModel", f"{repo}/unet", device)
        latents = torch.randn(1, 4, SIDE // 8, SIDE // 8, device=device)
        out = model(latents, 999, encoder_hidden_states=torch.randn(1, SD_TOKENS, 768, device=device)).sample
        return f"{shape(latents)} -> {shape(out)}"

    vae = decoder("AutoencoderKL", f"{repo}/vae", 4, 8)

    run(checks, "sd", "CLIP ViT-L text encoder", "cpu", text)
    run(checks, "sd", "UNet, one step", "cpu", unet)
    run(checks, "sd", "VAE decode", "cpu", vae)


def sdxl(checks: list[Check]) -> None:
    repo = "stabilityai/stable-diffusion-xl-base-1.0"

    def text_2(device):
        model = transformers_model("CLIPTextModelWithProjection", "CLIPTextConfig", f"{repo}/text_encoder_2", device)
        out = model(tokens(SD_TOKENS, model.config.vocab_size, device), output_hidden_states=True)
        return f"penultimate {shape(out.hidden_states[-2])}, pooled {shape(out.text_embeds)}"

    def unet(device):
        model = diffusers_model("UNet2DConditionModel", f"{repo}/unet", device)
        latents = torch.randn(1, 4, SIDE // 8, SIDE // 8, device=device)
        context = torch.randn(1, SD_TOKENS, 768 + 1280, device=device)  # both encoders' penultimate states
        added = {"text_embeds": torch.randn(1, 1280, device=device), "time_ids": torch.randn(1, 6, device=device)}
        out = model(latents, 999, encoder_hidden_states=context, added_cond_kwargs=added).sample
        return f"{shape(latents)} -> {shape(out)}"

    run(checks, "sdxl", "OpenCLIP bigG text encoder 2", "cpu", text_2)
    run(checks, "sdxl", "UNet, one step", "cpu", unet)


def sd3(checks: list[Check]) -> None:
    repo = "stabilityai/stable-diffusion-3-medium-diffusers"

    t5 = encoder("T5EncoderModel", "T5Config", f"{repo}/text_encoder_3", T5_TOKENS)

    def transformer(device):
        model = diffusers_model("SD3Transformer2DModel", f"{repo}/transformer", device)
        latents = torch.randn(1, 16, SIDE // 8, SIDE // 8, device=device)
        context = torch.randn(1, SD_TOKENS + T5_TOKENS, 4096, device=device)  # CLIP states padded to T5's, then T5's
        out = model(latents, encoder_hidden_states=context, pooled_projections=torch.randn(1, 2048, device=device),
                    timestep=torch.tensor([999.0], device=device)).sample
        return f"{shape(latents)} -> {shape(out)}"

    vae = decoder("AutoencoderKL", f"{repo}/vae", 16, 8)

    run(checks, "sd3", "T5-XXL text encoder 3", "meta", t5)
    run(checks, "sd3", "MMDiT transformer, one step", "cpu", transformer)
    run(checks, "sd3", "VAE decode (16 channels)", "cpu", vae)


def flux(checks: list[Check]) -> None:
    def transformer(device):
        model = diffusers_model("FluxTransformer2DModel", "black-forest-labs/FLUX.1-schnell/transformer", device)
        side = SIDE // 16  # 8x VAE, then 2x2 patches packed into the sequence
        image = torch.randn(1, side * side, 64, device=device)
        out = model(image, encoder_hidden_states=torch.randn(1, T5_TOKENS, 4096, device=device),
                    pooled_projections=torch.randn(1, 768, device=device), timestep=torch.tensor([1.0], device=device),
                    img_ids=torch.zeros(side * side, 3, device=device), txt_ids=torch.zeros(T5_TOKENS, 3, device=device),
                    guidance=None).sample
        return f"packed {shape(image)} -> {shape(out)}"

    vae = decoder("AutoencoderKL", "black-forest-labs/FLUX.1-dev/vae", 16, 8)

    run(checks, "flux", "transformer (12B), one step", "meta", transformer)
    run(checks, "flux", "VAE decode (16 channels)", "cpu", vae)


def pixart(checks: list[Check]) -> None:
    def transformer(device):
        model = diffusers_model("PixArtTransformer2DModel", "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS/transformer", device)
        latents = torch.randn(1, 4, SIDE // 8, SIDE // 8, device=device)
        out = model(latents, encoder_hidden_states=torch.randn(1, 300, 4096, device=device),
                    timestep=torch.tensor([999], device=device),
                    added_cond_kwargs={"resolution": None, "aspect_ratio": None}).sample
        return f"{shape(latents)} -> {shape(out)} (noise and variance)"

    run(checks, "pixart", "DiT transformer, one step", "cpu", transformer)


def sana(checks: list[Check]) -> None:
    repo = "Efficient-Large-Model/Sana_1600M_1024px_diffusers"

    gemma = encoder("Gemma2Model", "Gemma2Config", f"{repo}/text_encoder", GEMMA_TOKENS)

    def transformer(device):
        model = diffusers_model("SanaTransformer2DModel", f"{repo}/transformer", device)
        latents = torch.randn(1, 32, SIDE // 32, SIDE // 32, device=device)
        out = model(latents, encoder_hidden_states=torch.randn(1, GEMMA_TOKENS, 2304, device=device),
                    timestep=torch.tensor([999], device=device)).sample
        return f"{shape(latents)} -> {shape(out)}"

    vae = decoder("AutoencoderDC", f"{repo}/vae", 32, 32)

    run(checks, "sana", "Gemma-2 2B text encoder", "meta", gemma)
    run(checks, "sana", "linear DiT (1.6B), one step", "cpu", transformer)
    run(checks, "sana", "DC-AE decode (32x)", "cpu", vae)


def vlm(checks: list[Check]) -> None:
    """SmolVLM2-2.2B's language model at its looked-up text config (the vision tower's config
    could not be read from the stored pages; see real_configs.json)."""
    def text(device):
        settings = config("HuggingFaceTB/SmolVLM2-2.2B-Instruct/config.json")["text_config"]
        import transformers

        keep = {k: v for k, v in settings.items() if k in ("head_dim", "hidden_size", "intermediate_size",
                                                            "max_position_embeddings", "num_hidden_layers")}
        with torch.device(device):
            model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**keep, num_attention_heads=32,
                                                                           num_key_value_heads=32, vocab_size=49280)).eval()
        out = model(tokens(1024, 49280, device), logits_to_keep=1).logits
        return f"1024 tokens -> next-token logits {shape(out)}"

    # Heads = hidden / head_dim (the file's head count was not readable); the vocabulary size is an
    # unverified value (see real_configs.json): this row checks the language model's depth and widths.
    run(checks, "vlm", "SmolVLM2 2.2B language model (heads derived, vocab unverified)", "meta", text)


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def write(checks: list[Check]) -> None:
    import diffusers
    import transformers

    lines = [
        "## Real shapes",
        "",
        f"`python bench/real_shapes.py` on {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, diffusers {diffusers.__version__}, "
        f"transformers {transformers.__version__}, commit {commit()}: each component at its real Hub config "
        f"(bench/real_configs.json) with random weights, {SIDE} px; `meta` checks shapes only.",
        "",
        "| family | component | device | seconds | shapes (or the error) |",
        "|---|---|---|---|---|",
        *[f"| {c.family} | {c.component} | {c.device} | {c.seconds:.1f} | {c.error or c.shapes} |" for c in checks],
        "",
    ]
    results = ROOT / "bench" / "RESULTS.md"
    text = results.read_text()
    start = text.find("## Real shapes")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + text[end + 1 :] if end >= 0 else text[:start]
    results.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines))


def main() -> int:
    torch.manual_seed(0)
    checks: list[Check] = []
    for family in (sd, sdxl, sd3, flux, pixart, sana, vlm):
        family(checks)
    write(checks)
    return 1 if any(c.error for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
