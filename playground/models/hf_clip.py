"""CLIP-style models that load through transformers (CLIPModel, SiglipModel), given open_clip's
interface, so a `ClipScorer` scores with them exactly as with an open_clip model.

PLIP, MONET and PubMedCLIP publish transformers checkpoints, not open_clip ones. `HfClip` wraps
such a model with `encode_image` / `encode_text` / `logit_scale`; `load` also returns the
preprocessing (one PIL image to a pixel tensor) and the tokenizer (texts to input ids) that
`ClipScorer` expects. `build_tiny` makes the offline stand-in `tiny-offline-hf-clip`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

LOADERS = {"transformers-clip": "CLIPModel", "transformers-siglip": "SiglipModel"}


class HfClip(torch.nn.Module):
    """A transformers CLIP/SigLIP model with open_clip's methods."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.logit_scale = model.logit_scale

    def encode_image(self, pixels: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = self.model.get_image_features(pixel_values=pixels).pooler_output
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, input_ids: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = self.model.get_text_features(input_ids=input_ids).pooler_output
        return F.normalize(features, dim=-1) if normalize else features


def load(source: str, loader: str, device: torch.device, dtype: torch.dtype):
    """(model, preprocess, tokenizer) for a transformers checkpoint (a Hub id or a folder)."""
    import transformers

    model = getattr(transformers, LOADERS[loader]).from_pretrained(source, dtype=dtype).to(device)
    processor = transformers.AutoProcessor.from_pretrained(source)
    siglip = loader == "transformers-siglip"  # SigLIP was trained on texts padded to full length

    def preprocess(image: Image.Image) -> torch.Tensor:
        return processor.image_processor(images=image, return_tensors="pt").pixel_values[0]

    def tokenizer(texts: list[str]) -> torch.Tensor:
        padding = "max_length" if siglip else True
        return processor.tokenizer(texts, padding=padding, truncation=True, return_tensors="pt").input_ids

    return HfClip(model).eval(), preprocess, tokenizer


def build_tiny(config: dict, folder: Path) -> None:
    """A random-weight transformers CLIPModel with CLIP's tokenizer and a small image processor,
    saved as a Hub repo is; text and image embeddings share a direction (as open_clip's stand-ins
    do) so cosines look like a trained CLIP's."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from .families._parts import clip_tokenizer

    model = CLIPModel(CLIPConfig(**config["model"]))
    _share_direction(model, config["shared_direction_norm"])
    image_processor = CLIPImageProcessor(**config["image_processor"])
    model.save_pretrained(folder)
    CLIPProcessor(image_processor=image_processor, tokenizer=clip_tokenizer()).save_pretrained(folder)


@torch.no_grad()
def _share_direction(model: torch.nn.Module, norm: float) -> None:
    direction = torch.randn(model.config.projection_dim)
    direction *= norm / direction.norm()
    project: Callable[[torch.nn.Linear], torch.Tensor] = lambda layer: direction @ torch.linalg.pinv(layer.weight.T)
    model.text_model.final_layer_norm.bias.copy_(project(model.text_projection))
    model.vision_model.post_layernorm.bias.copy_(project(model.visual_projection))
