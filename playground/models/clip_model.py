"""A loaded CLIP, ready to embed images and texts: what the judges score with and guidance steers by.

The score follows torchmetrics' CLIPScore convention, 100 x max(cosine similarity, 0), so numbers
compare with published ones. Images are embedded in batches; text embeddings are cached by text,
because a comparison grid repeats the same few prompts and subjects many times.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from PIL import Image

TEXT_CACHE_SIZE = 4096


class ClipScorer:
    """An open_clip model, its preprocessing and tokenizer, ready to score images against texts.

    Built by `models.load_scorer`; safe to share between threads.
    """

    def __init__(
        self,
        scorer_id: str,
        model: torch.nn.Module,
        preprocess: Callable[[Image.Image], torch.Tensor],
        tokenizer: Callable[[list[str]], torch.Tensor],
        device: torch.device,
        input_dtype: torch.dtype | None = None,
        batch_size: int = 32,
    ) -> None:
        self.scorer_id = scorer_id
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.input_dtype = input_dtype
        self.batch_size = batch_size
        self._text_cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised text embeddings, shape (len(texts), dim); each distinct text encoded once."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._text_cache))
            for start in range(0, len(missing), self.batch_size):
                chunk = missing[start : start + self.batch_size]
                tokens = self.tokenizer(chunk).to(self.device)
                features = self.model.encode_text(tokens, normalize=True).float().cpu()
                self._text_cache.update(zip(chunk, features))
            for text in texts:
                self._text_cache.move_to_end(text)
            embeddings = torch.stack([self._text_cache[t] for t in texts])
            while len(self._text_cache) > TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
        return embeddings

    @torch.no_grad()
    def embed_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """L2-normalised image embeddings, shape (len(images), dim), computed in batches (the
        judges read them through their score cache, see judges.base.Context)."""
        if not images:
            return torch.empty(0, 0)
        chunks = []
        for start in range(0, len(images), self.batch_size):
            pixels = torch.stack([self.preprocess(im.convert("RGB")) for im in images[start : start + self.batch_size]])
            pixels = pixels.to(self.device, dtype=self.input_dtype)
            chunks.append(self.model.encode_image(pixels, normalize=True).float().cpu())
        return torch.cat(chunks)

    def zero_shot(self, image_embeddings: torch.Tensor, labels: Sequence[str]) -> torch.Tensor:
        """CLIP's zero-shot probabilities, shape (images, labels): softmax of scaled cosines."""
        logit_scale = float(self.model.logit_scale.exp()) if hasattr(self.model, "logit_scale") else 100.0
        return (logit_scale * image_embeddings @ self.embed_texts(labels).T).softmax(dim=-1)

    def scores(self, images: Sequence[Image.Image], texts: Sequence[str]) -> list[float]:
        """CLIP score of image i against text i, for every i."""
        return clip_score(self.embed_images(images), self.embed_texts(texts))


def clip_score(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> list[float]:
    """Row-wise 100 x max(cosine, 0) of normalised embeddings, as Python floats."""
    cosine = (image_embeddings * text_embeddings).sum(dim=-1)
    return [float(v) for v in (100 * cosine.clamp(min=0))]
