"""BrushBench's metric protocol (BrushNet ``examples/brushnet/evaluate_brushnet.py``, ``MetricsCalculator``).

Inputs as BrushNet reads them: ``src`` = the source image and ``tgt`` = the output, each resized to
512 x 512 with PIL's default filter when it is not that size already (``Image.open(...).resize((512, 512))``);
``M`` = the task's mask (1 = painted) and ``K = 1 - M`` (the region to keep) of shape (512, 512, 1).
With ``a = src / 255 * K`` and ``b = tgt / 255 * K`` (float32, broadcast over 3 channels):

- ``mse_unmasked_published``  = ``sum((a - b)^2) / sum(K)``: the sum runs over **3** channels, the
  divisor over **1** (``difference_size = mask.sum()`` on the (H, W, 1) mask), so it is 3 x a per-value
  mean: the number BrushNet's tables report (x 10^3 there);
- ``psnr_unmasked_published`` = ``20 log10(1 / sqrt(mse_published))``, 1000 when that MSE is below 1e-10
  (BrushNet's own constant); 10 log10(3) = 4.77 dB below the per-value definition;
- ``mse_unmasked`` / ``psnr_unmasked``: the same region with the correct divisor ``3 * sum(K)``, PSNR
  capped at 100 dB like every other PSNR here;
- ``lpips_unmasked`` = LPIPS-squeeze of ``a * 2 - 1`` and ``b * 2 - 1`` (model ``lpips``);
- ``clip_similarity`` = torchmetrics ``CLIPScore`` ViT-L/14 of ``tgt`` and ``task.prompt`` (the caption;
  model ``clip``).

NaN when ``K`` is empty. ``models`` (default ``lpips``, ``clip``) as in scorers/pie.py; the weights are
the same folders (``lpips/squeezenet1_1.pth``, ``clip-vit-large-patch14/``). BrushNet's published tables
also carry ImageReward, HPS v2.1 and the LAION aesthetic score, which are not reproduced here.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from scorers.base import Metric, Scorer
from scorers.protocol_models import LPIPS_SQUEEZE, ProtocolModels, clip_slot, lpips_distance
from scorers.regions import source_image, task_mask

SIDE = 512
PUBLISHED_IDENTICAL = 1000.0      # BrushNet: ``if mse < 1.0e-10: return 1000``
PSNR_CEILING = 100.0


def to_512(image: np.ndarray) -> np.ndarray:
    """``PIL.Image.resize((512, 512))`` with PIL's default filter, unless already 512 x 512."""
    from PIL import Image

    if image.shape[:2] == (SIDE, SIDE):
        return image
    return np.asarray(Image.fromarray(image).resize((SIDE, SIDE)))


def mask_512(mask: np.ndarray) -> np.ndarray:
    """A bool mask on the 512 x 512 grid (nearest neighbour; BrushBench's own masks are decoded at 512)."""
    from PIL import Image

    if mask.shape == (SIDE, SIDE):
        return mask
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((SIDE, SIDE), Image.NEAREST)) > 127


def masked_errors(src: np.ndarray, tgt: np.ndarray, keep: np.ndarray) -> dict[str, float]:
    """The four weight-free columns (module docstring) for uint8 images and bool ``keep`` (H, W)."""
    k = keep.astype(np.float32)[..., None]
    a, b = src.astype(np.float32) / 255 * k, tgt.astype(np.float32) / 255 * k
    total = float(((a.astype(np.float64) - b) ** 2).sum())
    n = float(k.sum())
    pub = total / n
    right = total / (3 * n)
    return {"mse_unmasked_published": pub,
            "psnr_unmasked_published": PUBLISHED_IDENTICAL if pub < 1e-10 else 20 * math.log10(1 / math.sqrt(pub)),
            "mse_unmasked": right,
            "psnr_unmasked": PSNR_CEILING if right == 0 else min(10 * math.log10(1 / right), PSNR_CEILING)}


class BrushBenchScorer(ProtocolModels, Scorer):
    name = "brushbench"
    kinds = frozenset({"inpaint", "outpaint"})
    metrics = {
        "psnr_unmasked_published": Metric("higher", range=(None, PUBLISHED_IDENTICAL), unit="dB"),
        "mse_unmasked_published": Metric("lower", range=(0.0, 3.0)),
        "psnr_unmasked": Metric("higher", range=(0.0, PSNR_CEILING), unit="dB"),
        "mse_unmasked": Metric("lower", range=(0.0, 1.0)),
        "lpips_unmasked": Metric("lower", range=(0.0, None)),
        "clip_similarity": Metric("higher", range=(0.0, 100.0)),
    }
    weights = ("lpips/squeezenet1_1.pth", "clip-vit-large-patch14/ (save_pretrained)")

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        models: list[Literal["lpips", "clip"]] = ["lpips", "clip"]
        lpips_weights: str | None = None
        clip_weights: str | None = None
        device: str | None = None

    lpips = clip = None
    slots = (LPIPS_SQUEEZE, clip_slot("clip-vit-large-patch14"))

    def score(self, task, output) -> dict[str, float]:

        if self.options.models and self.lpips is None and self.clip is None:
            self.load()
        row = {m: math.nan for m in self.metrics}
        src0 = source_image(task)
        mask = task_mask(task, src0.shape[:2])
        if mask is None:
            return row
        src, tgt = to_512(src0), to_512(np.asarray(output.image))
        keep = ~mask_512(mask)
        if keep.any():
            row.update(masked_errors(src, tgt, keep))
            if self.lpips is not None:
                k = keep.astype(np.float32)[..., None]
                row["lpips_unmasked"] = lpips_distance(self.lpips, src / 255 * k, tgt / 255 * k, device=self.device)
        if self.clip is not None and task.prompt:
            row["clip_similarity"] = self.clip.score([tgt], [task.prompt])[0]
        return row
