"""Fidelity to a ground-truth target inside the edited region, for tasks that have one.

Region M = the task mask (not dilated) on the target's grid; the whole image when the task has no
mask. The output is resized to the target's size when their sizes differ (scorers/regions.py).
On uint8 values, over M and all channels:

- ``psnr`` = min(10 log10(255^2 / mean (out - target)^2), 100) dB; 100 when identical  (higher is better)
- ``ssim`` = mean over M of scikit-image's SSIM map (7x7 uniform window, data_range 255,
             channel-averaged), skimage's 3-pixel image border excluded; windows centred near the
             mask edge also see unmasked pixels                              (higher is better)

Tasks without ``target`` get NaN (no reference to compare with), with no error.
"""

from __future__ import annotations

import math

from scorers.background import PSNR_CEILING, region_errors, region_ssim
from scorers.base import Metric, Scorer
from scorers.regions import target_region
from tasks.schema import Task


class FidelityScorer(Scorer):
    name = "fidelity"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    metrics = {"psnr": Metric("higher", range=(0.0, PSNR_CEILING), unit="dB", version=2),
               "ssim": Metric("higher", range=(-1.0, 1.0))}

    def score(self, task: Task, output) -> dict[str, float]:
        pixels = target_region(task, output)
        if pixels is None:
            return {"psnr": math.nan, "ssim": math.nan}
        out, target, region = pixels
        return {"psnr": region_errors(out, target, region)["psnr"], "ssim": region_ssim(out, target, region)}
