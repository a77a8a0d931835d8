"""Seam residual: excess luminance-edge energy along the mask contour, relative to the source.

On the source grid (an output of another size is resized; scorers/regions.py), with M the mask:

- L = Rec. 601 luma in [0, 1]; g = |grad L|^2 with Sobel derivatives (scipy.ndimage.sobel / 8, so a
  unit ramp has gradient 1 per pixel);
- d(p) = Euclidean distance from pixel p to the other side of the contour (distance_transform_edt of
  ~M for pixels outside M, of M for pixels inside; 1 for pixels touching the contour);
- band B = {d <= w}, rings R = {w < d <= 3w} (both sides of the contour), w = ``band_px``
  (default max(3, round(0.01 * max(H, W))));
- E(img) = (mean_B g + eps) / (mean_R g + eps), eps = 1e-6: edge energy at the contour relative to
  the energy just inside and outside it;
- ``seam.score`` = max(0, ln(E(output) / E(source)))   (lower is better; 0 = no excess seam).

Squared gradients make a hard step (all contrast in one pixel) cost more than the same step spread
over a feather: a ramp of height S over f pixels has energy S^2 / f. The ratio to the rings
discounts outputs that are sharper or blurrier everywhere. NaN when the mask is missing, empty or
full (no contour), or when the rings hold no pixels.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from scorers.base import Metric, Scorer
from scorers.regions import aligned_output, auto_px, luminance, source_image, task_mask

EPS = 1e-6


def contour_distance(mask: np.ndarray) -> np.ndarray:
    """Distance of every pixel to the other side of the mask contour (>= 1), float (H, W)."""
    from scipy.ndimage import distance_transform_edt

    return np.where(mask, distance_transform_edt(mask), distance_transform_edt(~mask))


def gradient_energy(image: np.ndarray) -> np.ndarray:
    """|grad L|^2 of an RGB uint8 image's luma (Sobel / 8), float (H, W)."""
    from scipy.ndimage import sobel

    lum = luminance(image)
    gx = sobel(lum, axis=1, mode="nearest") / 8.0
    gy = sobel(lum, axis=0, mode="nearest") / 8.0
    return gx * gx + gy * gy


def contour_energy_ratio(image: np.ndarray, band: np.ndarray, rings: np.ndarray) -> float:
    """E(image) = (mean over ``band`` of |grad L|^2 + eps) / (mean over ``rings`` + eps)."""
    g = gradient_energy(image)
    return float((g[band].mean() + EPS) / (g[rings].mean() + EPS))


def seam_score(source: np.ndarray, output: np.ndarray, mask: np.ndarray, *, band_px: int) -> float:
    """max(0, ln(E(output) / E(source))) for RGB uint8 images of one size and a bool mask (H, W)."""
    if not mask.any() or mask.all():
        return math.nan
    d = contour_distance(mask)
    band = d <= band_px
    rings = (d > band_px) & (d <= 3 * band_px)
    if not rings.any():
        return math.nan
    ratio = contour_energy_ratio(output, band, rings) / contour_energy_ratio(source, band, rings)
    return max(0.0, math.log(ratio))


class SeamScorer(Scorer):
    name = "seam"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    metrics = {"score": Metric("lower", range=(0.0, None))}

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        band_px: int | None = None  # half-width w of the contour band; None = max(3, round(0.01 * max(H, W)))

    def score(self, task, output) -> dict[str, float]:
        src = source_image(task)
        shape = src.shape[:2]
        mask = task_mask(task, shape)
        if mask is None:
            return {"score": math.nan}
        out = aligned_output(np.asarray(output.image), shape)
        w = self.options.band_px if self.options.band_px is not None else auto_px(shape)
        return {"score": seam_score(src, out, mask, band_px=w)}
