"""Background preservation: how much an edit changed the pixels it was told to keep.

Region R = pixels outside the task mask dilated by ``dilate_px`` (default max(4, round(0.01 *
max(H, W)))), on the source grid (an output of another size is resized; see scorers/regions.py).
On uint8 values (0..255), over R and all three channels:

- ``mse``     = mean (out - src)^2                                   (lower is better)
- ``psnr``    = min(10 log10(255^2 / mse), 100) dB; 100 when mse = 0   (higher is better)
- ``ssim``    = mean over R' of scikit-image's SSIM map (7x7 uniform window, data_range 255,
                channel-averaged), R' = the pixels of R whose whole 7x7 window lies outside the mask,
                minus the 3-pixel image border that skimage itself crops  (higher is better)
- ``max_abs`` = max |out - src|                                      (lower is better)

PSNR is capped at ``PSNR_CEILING`` = 100 dB (an MSE of 2.6e-6, far below one uint8 level) so that
identical pixels give a finite value every mean, interval and gate counts. With an empty mask,
``psnr`` (below the ceiling) and ``ssim`` equal ``skimage.metrics.peak_signal_noise_ratio`` and
``structural_similarity`` exactly. R' excludes exactly the windows that touch the mask (a 7x7
maximum filter of the mask), so untouched background scores SSIM 1 even at mask corners. A task
without a mask compares the whole image; a mask covering everything (R empty) gives NaN.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from scorers.base import Metric, Scorer
from scorers.regions import aligned_output, auto_px, dilate, source_image, task_mask
from tasks.schema import Task

SSIM_WIN = 7  # scikit-image's default window for structural_similarity
PSNR_CEILING = 100.0  # dB: the PSNR of identical pixels (and the cap of every PSNR)


def region_errors(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """MSE, PSNR (dB, peak 255, capped at PSNR_CEILING) and max |a - b| of uint8 images (H, W, C) over
    bool ``region`` (H, W)."""
    if not region.any():
        return {"mse": math.nan, "psnr": math.nan, "max_abs": math.nan}
    d = a.astype(np.float64)[region] - b.astype(np.float64)[region]
    mse = float(np.mean(d * d))
    return {"mse": mse, "psnr": psnr_of(mse), "max_abs": float(np.abs(d).max())}


def psnr_of(mse: float) -> float:
    """10 log10(255^2 / mse) dB, capped at PSNR_CEILING (so mse = 0 gives the ceiling, never +inf)."""
    return PSNR_CEILING if mse == 0 else min(PSNR_CEILING, float(10.0 * np.log10(255.0 ** 2 / mse)))


def window_clear(mask: np.ndarray) -> np.ndarray:
    """Pixels whose SSIM_WIN x SSIM_WIN window holds no True pixel of ``mask`` (bool (H, W))."""
    from scipy.ndimage import maximum_filter

    return ~maximum_filter(mask, size=SSIM_WIN, mode="constant", cval=False)


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
    needs_mask = True
    metrics = {"psnr": Metric("higher", range=(0.0, PSNR_CEILING), unit="dB", version=2),
               "ssim": Metric("higher", range=(-1.0, 1.0), version=2),
               "mse": Metric("lower", range=(0.0, 65025.0)), "max_abs": Metric("lower", range=(0.0, 255.0))}

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        dilate_px: int | None = None  # mask dilation in px; None = max(4, round(0.01 * max(H, W)))

    def score(self, task: Task, output) -> dict[str, float]:
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
        clear = region if mask is None else region & window_clear(mask)
        vals["ssim"] = region_ssim(out, src, clear) if clear.any() else math.nan
        return vals
