"""Seam: how unlike its neighbours the mask contour looks in the output, measured on the output alone.

On the source grid (an output of another size is resized; scorers/regions.py), with M the mask and
O the output:

- L = Rec. 601 luma of O in [0, 1]; d = Euclidean distance of a pixel to the other side of the
  contour (>= 1); signed distance s = d - 1/2 outside M, -(d - 1/2) inside; n = unit normal of the
  contour, the gradient of s smoothed by a Gaussian of sigma 1;
- g_n = (grad L . n)^2, the squared luma derivative across the contour direction (Sobel / 8, so a
  unit ramp has derivative 1 per pixel);
- contour band B_0 = {|s| <= w} (w px on both sides of the contour), w = ``band_px`` (default
  max(3, round(0.01 * max(H, W))));
- parallel bands B_k = {(2k - 1) w < s <= (2k + 1) w}, k = 1..3: three bands of the same width, next
  to B_0 and to each other, that lie entirely in the kept region and follow the contour's shape;
- S(B) = mean over B of g_n; ratio = (S(B_0) + eps) / (mean_k S(B_k) + eps), eps = 1e-8;
- ``seam.score`` = |ln ratio|   (lower is better; 0 = the contour looks like its parallel contours).

Because everything is measured on the output, the removed object (on the source only) cannot
leak into the score, and global sharpness or background texture cancel in the ratio. A hard step
along the contour raises S(B_0) (ratio > 1); a fill that is flatter than its surroundings near the
contour (a smear or blur reaching the contour) lowers it (ratio < 1): both move the score away from
0, so neither is hidden by a clip. Blind to: seams that lie away from the mask contour (inside the
fill) and to content that is wrong but continuous. NaN when the mask is missing, empty or full, or
when the kept region holds no parallel band.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from scorers.base import Metric, Scorer
from scorers.regions import aligned_output, auto_px, luminance, source_shape, task_mask
from tasks.schema import Task

EPS = 1e-8
N_PARALLEL = 3  # parallel reference bands in the kept region


def contour_distance(mask: np.ndarray) -> np.ndarray:
    """Distance of every pixel to the other side of the mask contour (>= 1), float (H, W)."""
    from scipy.ndimage import distance_transform_edt

    return np.where(mask, distance_transform_edt(mask), distance_transform_edt(~mask))


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Signed distance to the contour, positive in the kept region, negative inside the mask, float (H, W).

    Pixels touching the contour get +-0.5 (the contour lies between pixel centres)."""
    return np.where(mask, -(contour_distance(mask) - 0.5), contour_distance(mask) - 0.5)


def normal_gradient_energy(image: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """(grad L . n)^2 with n the unit gradient of the smoothed signed distance ``sd``, float (H, W)."""
    from scipy.ndimage import gaussian_filter, sobel

    lum = luminance(image)
    gx = sobel(lum, axis=1, mode="nearest") / 8.0
    gy = sobel(lum, axis=0, mode="nearest") / 8.0
    s = gaussian_filter(sd, 1.0, mode="nearest")
    nx, ny = np.gradient(s, axis=1), np.gradient(s, axis=0)
    norm = np.hypot(nx, ny)
    norm[norm == 0] = 1.0
    d = (gx * nx + gy * ny) / norm
    return d * d


def seam_bands(mask: np.ndarray, band_px: int) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """(contour band B_0, parallel kept bands B_1..B_3, signed distance) for a bool mask (H, W)."""
    sd = signed_distance(mask)
    w = float(band_px)
    band = np.abs(sd) <= w
    parallel = [(sd > (2 * k - 1) * w) & (sd <= (2 * k + 1) * w) for k in range(1, N_PARALLEL + 1)]
    return band, parallel, sd


def seam_log_ratio(output: np.ndarray, mask: np.ndarray, *, band_px: int) -> float:
    """ln((S(B_0) + eps) / (mean_k S(B_k) + eps)) of an RGB uint8 output (H, W, 3); NaN without a contour."""
    if not mask.any() or mask.all():
        return math.nan
    band, parallel, sd = seam_bands(mask, band_px)
    parallel = [b for b in parallel if b.any()]
    if not parallel:
        return math.nan
    g = normal_gradient_energy(output, sd)
    ref = float(np.mean([g[b].mean() for b in parallel]))
    return math.log((float(g[band].mean()) + EPS) / (ref + EPS))


def seam_score(output: np.ndarray, mask: np.ndarray, *, band_px: int) -> float:
    """|ln ratio| (see the module docstring) of an RGB uint8 output and a bool mask of one size."""
    return abs(seam_log_ratio(output, mask, band_px=band_px))


class SeamScorer(Scorer):
    name = "seam"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    needs_mask = True
    metrics = {"score": Metric("lower", range=(0.0, None), version=2)}

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        band_px: int | None = None  # half-width w of the contour band; None = max(3, round(0.01 * max(H, W)))

    def score(self, task: Task, output) -> dict[str, float]:
        shape = source_shape(task)   # only the grid: the score reads the output alone
        mask = task_mask(task, shape)
        if mask is None:
            return {"score": math.nan}
        out = aligned_output(np.asarray(output.image), shape)
        w = self.options.band_px if self.options.band_px is not None else auto_px(shape)
        return {"score": seam_score(out, mask, band_px=w)}
