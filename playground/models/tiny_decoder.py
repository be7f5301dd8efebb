"""A model's tiny decoder: diffusers' AutoencoderTiny (madebyollin's TAESD family) for drafts and
for cheaper CLIP guidance.

TAESD decoders use their model's "latent API": they take the latents the denoiser makes, with a
scaling factor of 1 and no shift, so a pipeline whose `vae` is one decodes through it unchanged
(`latents / vae.config.scaling_factor + shift_factor`). The TAESD3 card sets `shift_factor` to 0.0
after loading (https://huggingface.co/madebyollin/taesd3), which is done here for every one (the
others' configs already say 0.0). Which one a model uses is data: its registry card's
`tiny_decoder`; a tiny offline model's is a random-weight stand-in of the same class, built into
a folder as the Hub repo ships it and loaded by the same `from_pretrained`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import registry as model_registry
from .cache import Cache
from .loading import hub_errors_as_sentences, source_of

_decoders = Cache()


@dataclass(frozen=True)
class TinyDecoder:
    """A loaded tiny decoder: `revision` identifies its weights (part of a fast image's cache key)."""

    id: str
    revision: str
    vae: Any


def load_tiny_decoder(model_id: str, pipe) -> TinyDecoder:
    """`model_id`'s tiny decoder, on the device and in the dtype `pipe` denoises in, loaded once.

    Raises:
        PlaygroundError: the model has no tiny decoder (a sentence saying so), or the Hub did not
            answer.
    """
    decoder_id = model_registry.tiny_decoder(model_id)
    device, dtype = pipe._execution_device, pipe.dtype

    def build() -> TinyDecoder:
        from diffusers import AutoencoderTiny

        source = source_of(decoder_id, "tiny decoder")
        with hub_errors_as_sentences(decoder_id):
            vae = AutoencoderTiny.from_pretrained(source, dtype=dtype)
        vae.register_to_config(shift_factor=0.0)
        vae.requires_grad_(False).to(device)
        return TinyDecoder(decoder_id, _revision(decoder_id, source), vae)

    return _decoders.get((decoder_id, str(device), str(dtype)), build, max_items=4)


def _revision(decoder_id: str, source: str) -> str:
    """The built or local folder's name (an offline stand-in's carries its config digest), else
    the commit of the Hub snapshot its config came from."""
    if source != decoder_id or Path(source).is_dir():
        return f"{Path(source).name}@{Path(source).stat().st_mtime_ns}"
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(decoder_id, "config.json")
    return Path(found).parent.name if isinstance(found, str) else "unknown"
