"""The chest x-ray proxy classifier: torchxrayvision's DenseNet-121 ("densenet121-res224-all").

The validation idea of RoentGen: a synthetic chest x-ray should show the finding it was asked for,
and a classifier trained on real x-rays says how probable that finding is. `load_classifier` gives
the pretrained model (its weights come through torchxrayvision's own download, once, into
PLAYGROUND_HOME/xrv) or, offline, a random-weight instance of the same class with the same 18
outputs (`random_densenet`). `finding_probabilities` applies the library's own preprocessing.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from ..config import get_settings
from ..errors import PlaygroundError
from .cache import Cache
from .loading import pick_device

WEIGHTS = "densenet121-res224-all"
INPUT_SIZE = 224

# The order of the model's 18 outputs (== xrv.datasets.default_pathologies == model_urls[WEIGHTS]["labels"]).
PATHOLOGIES: tuple[str, ...] = (
    "Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema", "Fibrosis",
    "Effusion", "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule", "Mass", "Hernia",
    "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum",
)


@lru_cache(maxsize=1)
def _xrv():
    """Import torchxrayvision lazily (about 0.8 s on top of torch + torchvision, 2.3 s on top of torch alone).

    Its models.py runs ``warnings.filterwarnings("ignore")`` at import time, which would silence every
    warning in the process; importing inside ``catch_warnings`` puts the filters back afterwards.
    """
    with warnings.catch_warnings():
        import torchxrayvision
    return torchxrayvision


def random_densenet(seed: int = 0, calibrate: bool = True) -> torch.nn.Module:
    """An ``xrv.models.DenseNet`` with random weights, set up like the pretrained one: same 18 outputs
    and ``pathologies``/``targets``, the same operating-point thresholds (so outputs go through the same
    sigmoid + op_norm), ``input_resolution`` 224, eval mode. Never downloads anything.

    A freshly initialised DenseNet has identity BatchNorm statistics, and on inputs in [-1024, 1024]
    its logits are in the hundreds, so every probability is exactly 0 or 1. ``calibrate`` (default)
    sets the BatchNorm running statistics from one batch of seeded smooth random images, after which
    the outputs vary smoothly with the image. Same seed, same weights; the global RNG is left alone.
    """
    xrv = _xrv()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = xrv.models.DenseNet(weights=None, num_classes=len(PATHOLOGIES))
        if calibrate:
            _calibrate_batchnorm(model, seed)
    model.targets = list(PATHOLOGIES)
    model.pathologies = model.targets
    model.op_threshs = torch.tensor(xrv.models.model_urls[WEIGHTS]["op_threshs"], dtype=torch.float32)
    model.input_resolution = INPUT_SIZE
    return model.eval()


def _calibrate_batchnorm(model: torch.nn.Module, seed: int, n: int = 8) -> None:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, 8, 8, generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=(INPUT_SIZE, INPUT_SIZE), mode="bicubic", align_corners=False)
    images = (images.clamp(0, 1) * 2 - 1) * 1024
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: one batch sets the statistics exactly
    model.train()
    with torch.no_grad():
        model(images)
    for bn in norms:
        bn.momentum = 0.1


def preprocess(images: Sequence[Image.Image]) -> torch.Tensor:
    """PIL images (any size, RGB or grayscale, 8-bit) -> float32 tensor (N, 1, 224, 224) in [-1024, 1024].

    The library's own pipeline (README): normalize(img, 255) to [-1024, 1024], mean over the colour
    channels, XRayCenterCrop (square crop on the long side), XRayResizer(224) (skimage, anti-aliased).
    """
    xrv = _xrv()
    crop, resize = xrv.datasets.XRayCenterCrop(), xrv.datasets.XRayResizer(INPUT_SIZE)
    arrays = []
    for image in images:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
        gray = xrv.utils.normalize(rgb, 255).mean(axis=2)[None, :, :]
        arrays.append(resize(crop(gray)))
    return torch.from_numpy(np.stack(arrays))


def finding_probabilities(model: torch.nn.Module, images: Sequence[Image.Image],
                          batch_size: int = 16) -> list[dict[str, float]]:
    """One {pathology: probability} dict per image, in the model's output order.

    With the pretrained weights (and ``random_densenet``) these are op_norm-calibrated probabilities:
    sigmoid, then rescaled piecewise-linearly so that each pathology's operating threshold maps to 0.5;
    > 0.5 means "positive at the operating point". Puts the model in eval mode.
    """
    if not images:
        return []
    model.eval()
    device = next(model.parameters()).device
    labels = list(getattr(model, "pathologies", model.targets))
    raw_logits = getattr(model, "op_threshs", None) is None and not getattr(model, "apply_sigmoid", False)
    results: list[dict[str, float]] = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = preprocess(images[start:start + batch_size]).to(device)
            out = model(batch).float()
            if raw_logits:
                out = torch.sigmoid(out)
            for row in out.cpu().tolist():
                results.append({name: value for name, value in zip(labels, row) if name})
    return results

RANDOM_ID = "densenet121-random-offline"  # what the frame says scored, offline
_classifiers = Cache()


def load_classifier(offline: bool, device: str | None = None) -> tuple[str, torch.nn.Module]:
    """(id, model): the pretrained DenseNet, or offline its random-weight stand-in; cached."""
    torch_device, _ = pick_device(device)
    model_id = RANDOM_ID if offline else WEIGHTS

    def load() -> torch.nn.Module:
        if offline:
            return random_densenet().to(torch_device)
        cache_dir = get_settings().home / "xrv"
        try:
            model = _xrv().models.DenseNet(weights=WEIGHTS, cache_dir=str(cache_dir))
        except Exception as exc:  # requests' connection errors, a truncated file: one sentence
            raise PlaygroundError(
                f"Could not load the chest x-ray classifier {WEIGHTS} (torchxrayvision downloads it from GitHub "
                f"into {cache_dir}): {type(exc).__name__}: {exc}"
            ) from exc
        return model.to(torch_device).eval()

    return model_id, _classifiers.get((model_id, str(torch_device)), load, max_items=2)
