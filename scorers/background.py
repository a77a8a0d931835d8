"""Background preservation: how much an edit changed the pixels it was told to keep.

Region R = pixels outside the task mask dilated by ``dilate_px`` (default max(4, round(0.01 *
max(H, W)))), on the source grid (an output of another size is resized; see scorers/regions.py).
On uint8 values (0..255), over R and all three channels:

- ``mse``     = mean (out - src)^2                                   (lower is better)
- ``psnr``    = 10 log10(255^2 / mse); +inf when mse = 0            (higher is better)
- ``ssim``    = mean over R' of scikit-image's SSIM map (7x7 uniform window, data_range 255,
                channel-averaged), R' = R minus the 3-pixel image border that skimage itself crops
                (higher is better)
- ``max_abs`` = max |out - src|                                      (lower is better)

With an empty mask, ``psnr``/``ssim`` equal ``skimage.metrics.peak_signal_noise_ratio`` and
``structural_similarity`` exactly. The dilation (>= 4 px) keeps every 7x7 SSIM window centred in R
clear of the mask. A task without a mask compares the whole image; a mask covering everything
(R empty) gives NaN.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from scorers.base import Metric, Scorer
from scorers.regions import aligned_output, auto_px, dilate, source_image, task_mask

SSIM_WIN = 7  # scikit-image's default window for structural_similarity


def region_errors(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """MSE, PSNR (dB, peak 255) and max |a - b| of uint8 images (H, W, C) over bool ``region`` (H, W)."""
    if not region.any():
        return {"mse": math.nan, "psnr": math.nan, "max_abs": math.nan}
    d = a.astype(np.float64)[region] - b.astype(np.float64)[region]
    mse = float(np.mean(d * d))
    psnr = math.inf if mse == 0 else float(10.0 * np.log10(255.0 ** 2 / mse))
    return {"mse": mse, "psnr": psnr, "max_abs": float(np.abs(d).max())}


def region_ssim(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """Mean of scikit-image's SSIM map over ``region`` minus skimage's cropped border (uint8 images)."""
    from skimage.metrics import structural_similarity

    _, smap = structural_similarity(a, b, channel_axis=2, data_range=255, win_size=SSIM_WIN, full=True)
    smap = smap.mean(axis=2)                      # skimage averages channels the same way
    pad = (SSIM_WIN - 1) // 2
    inner = np.zeros(region.shape, dtype=bool)
    inner[pad:region.shape[0] - pad, pad:region.shape[1] - pad] = True
    sel = region & inner
    return float(smap[sel].mean()) if sel.any() else math.nan


class BackgroundScorer(Scorer):
    name = "background"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    metrics = {"psnr": Metric("higher", range=(0.0, None), unit="dB"), "ssim": Metric("higher", range=(-1.0, 1.0)),
               "mse": Metric("lower", range=(0.0, 65025.0)), "max_abs": Metric("lower", range=(0.0, 255.0))}

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        dilate_px: int | None = None  # mask dilation in px; None = max(4, round(0.01 * max(H, W)))

    def score(self, task, output) -> dict[str, float]:
        src = source_image(task)
        shape = src.shape[:2]
        out = aligned_output(np.asarray(output.image), shape)
        mask = task_mask(task, shape)
        if mask is None:
            region = np.ones(shape, dtype=bool)
        else:
            px = self.options.dilate_px if self.options.dilate_px is not None else auto_px(shape, minimum=4)
            region = ~dilate(mask, px)
        vals = region_errors(out, src, region)
        vals["ssim"] = region_ssim(out, src, region) if region.any() else math.nan
        return vals
