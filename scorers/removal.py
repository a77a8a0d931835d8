"""Removal success: how much of the source's own content inside the mask survives in the output.

A removal fails when the object is still there: left untouched, pasted back, or kept as a ghost.
No fill metric that reads the output alone (seam, texture) can see that: the object is perfectly
continuous with its own surroundings. So this scorer compares the output with the source inside the
mask, relative to what the surroundings alone explain there.

On the source grid (an output of another size is resized; scorers/regions.py), with S the source, O the
output and M the mask (after the pipeline's ``mask_dilate``), RGB on the uint8 scale in float64:

- interior I = M eroded by w px, w = max(3, round(0.01 * max(H, W))) (M itself when that is empty):
  next to the contour every good fill continues the surroundings' structure, which S shares there, so
  that band says nothing about the object;
- D(X) = the x and y derivatives of a Gaussian of sigma ``smooth_px`` (default w / 2) of each RGB
  channel of X, six values per pixel: edges and shading at the object's scale, not pixel noise, and
  not the flat colour a fill may share with the object by chance;
- a = D(S) on I (the content that was there), b = D(O) on I;
- ``survival`` = clip(<b, a> / (<a, a> + n eps), 0, 1), the least-squares coefficient of the source's
  structure in the output (n = number of values, eps = 0.01 level^2 per px^2: an interior with no
  structure of its own scores ~0).

1 = the source's content is all still there ("nothing changed", "object pasted back"); a ghost of
opacity t scores t; 0 = nothing of it is left. A fill made from the surroundings - smooth (Telea, NS),
flat, or a texture continuation (PatchMatch) - has edges uncorrelated with the removed object's, so it
scores near 0; what it continues *from the surroundings into* the interior (a tower cut by the box,
continued through it by Telea) counts as surviving, which is what the eye sees as a ghost. Lower is
better. Measured on scikit-image photos (docs/metrics.md, removal): PatchMatch, Telea and NS fills
0.00-0.21, a 50 % ghost 0.51-0.56, the untouched source 0.995-1. Blind to: whether the fill looks
right (``texture``, ``seam``), and to an object replaced by another whose edges fall at the same places.
NaN when the task has no mask, or the mask is empty or covers the whole image.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from scorers.base import Metric, Scorer
from scorers.regions import aligned_output, auto_px, source_image, task_mask
from tasks.schema import Task

EPS = 0.01  # (levels / px)^2 per value: the floor of the source's structure energy


def structure(image: np.ndarray, *, sigma: float) -> np.ndarray:
    """x and y derivatives of a Gaussian of ``sigma`` px of each channel of RGB uint8 (H, W, 3): (H, W, 6)."""
    from scipy.ndimage import gaussian_filter

    x = image.astype(np.float64)
    return np.stack([gaussian_filter(x[..., c], sigma, order=o, mode="nearest")
                     for c in range(3) for o in ((0, 1), (1, 0))], axis=-1)


def interior(mask: np.ndarray, px: int) -> np.ndarray:
    """``mask`` eroded by ``px`` px (Euclidean), or ``mask`` itself when that leaves nothing."""
    from scipy.ndimage import distance_transform_edt

    inner = distance_transform_edt(mask) > px
    return inner if inner.any() else mask


def survival(output: np.ndarray, source: np.ndarray, mask: np.ndarray, *, interior_px: int,
             smooth_px: float) -> float:
    """Share of the source's own structure in ``mask`` that the output keeps (module docstring), in [0, 1].

    ``output`` and ``source`` are RGB uint8 (H, W, 3) on one grid, ``mask`` bool (H, W)."""
    if not mask.any() or mask.all():
        return math.nan
    region = interior(mask, interior_px)
    a = structure(source, sigma=smooth_px)[region]
    b = structure(output, sigma=smooth_px)[region]
    coef = float((a * b).sum() / ((a * a).sum() + a.size * EPS))
    return min(1.0, max(0.0, coef))


class RemovalScorer(Scorer):
    name = "removal"
    kinds = frozenset({"inpaint"})
    needs_mask = True
    metrics = {"survival": Metric("lower", range=(0.0, 1.0))}

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        smooth_px: float | None = None  # sigma of the Gaussian before comparing; None = w / 2

    def score(self, task: Task, output) -> dict[str, float]:
        src = source_image(task)
        shape = src.shape[:2]
        mask = task_mask(task, shape)
        if mask is None:
            return {"survival": math.nan}
        out = aligned_output(np.asarray(output.image), shape)
        w = auto_px(shape)
        sigma = self.options.smooth_px if self.options.smooth_px is not None else w / 2.0
        return {"survival": survival(out, src, mask, interior_px=w, smooth_px=sigma)}
