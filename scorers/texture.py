"""Texture consistency: do the fill's local statistics match those of the ring of kept pixels around it?

Weights-free. On the source grid (an output of another size is resized; scorers/regions.py), with
M the mask and O the output, everything measured on O:

- fill F = M; ring R = kept pixels within r px of the mask, r = max(3 w, round(0.5 sqrt(|M| / pi)))
  (half the radius of a disc of the mask's area), w = ``scale_px`` (default max(3, round(0.01 *
  max(H, W)))), the scale of the local statistics;
- L = Rec. 601 luma in [0, 1]; gx, gy = Sobel / 8; G_s = Gaussian filter of sigma s = w / 2;
- local gradient energy  e = G_s(gx^2 + gy^2); local high-frequency energy h = G_s((L - G_1(L))^2);
- structure tensor J = G_s([gx^2, gx gy, gy^2]); orientation theta = 1/2 atan2(2 J_xy, J_xx - J_yy),
  weighted by its anisotropy a = sqrt((J_xx - J_yy)^2 + 4 J_xy^2);
- colour: CIELAB (scikit-image ``rgb2lab``).

Terms (each 0 when F and R share the statistic's distribution):

- ``gradient``    = W1(ln(e + eps) over F, ln(e + eps) over R)      (Wasserstein-1, natural-log units)
- ``high_freq``   = W1(ln(h + eps) over F, ln(h + eps) over R)
- ``orientation`` = total-variation distance between the a-weighted histograms of theta over F and R
                    (8 bins over [0, pi)), in [0, 1]
- ``colour``      = mean over the L*, a*, b* channels of W1(F, R) / (std over R + 1)
- ``score``       = gradient + high_freq + orientation + colour   (lower is better)

eps = 1e-8. A blurred fill or a diffusion smear (Telea, Navier-Stokes) loses gradient and
high-frequency energy and gains streak orientations the ring does not have; a PatchMatch
continuation copies ring patches and so keeps their distribution. Blind to: *which* texture fills
the hole (any plausible texture copied from elsewhere scores well — reconstruction tasks with a
ground truth catch that), to seams along the contour (see ``seam``) and to global structure (a
straight edge that bends inside the fill). NaN when the mask is missing, empty or full, or the ring
is empty.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from scorers.base import Metric, Scorer
from scorers.regions import aligned_output, auto_px, luminance, source_shape, task_mask
from tasks.schema import Task

EPS = 1e-8
ORIENTATION_BINS = 8


def wasserstein1(a: np.ndarray, b: np.ndarray, *, n: int = 256) -> float:
    """W1 distance between two 1-D samples, from ``n`` matched quantiles (exact as n grows)."""
    q = (np.arange(n) + 0.5) / n
    return float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))


def ring_of(mask: np.ndarray, radius: float) -> np.ndarray:
    """Kept pixels within ``radius`` px (Euclidean) of a bool mask (H, W)."""
    from scipy.ndimage import distance_transform_edt

    return ~mask & (distance_transform_edt(~mask) <= radius)


def ring_radius(mask: np.ndarray, scale_px: int) -> int:
    """r = max(3 * scale_px, round(0.5 * sqrt(|M| / pi)))."""
    return max(3 * scale_px, round(0.5 * math.sqrt(mask.sum() / math.pi)))


def local_statistics(image: np.ndarray, *, scale_px: int) -> dict[str, np.ndarray]:
    """Per-pixel maps of an RGB uint8 image (H, W, 3): ln gradient energy, ln high-frequency energy,
    orientation in [0, pi), anisotropy weight, and CIELAB (H, W, 3)."""
    from scipy.ndimage import gaussian_filter, sobel
    from skimage.color import rgb2lab

    lum = luminance(image)
    gx = sobel(lum, axis=1, mode="nearest") / 8.0
    gy = sobel(lum, axis=0, mode="nearest") / 8.0
    s = scale_px / 2.0

    def smooth(x):
        return gaussian_filter(x, s, mode="nearest")

    hf = lum - gaussian_filter(lum, 1.0, mode="nearest")
    jxx, jxy, jyy = smooth(gx * gx), smooth(gx * gy), smooth(gy * gy)
    return {
        "gradient": np.log(jxx + jyy + EPS),
        "high_freq": np.log(smooth(hf * hf) + EPS),
        "theta": np.mod(0.5 * np.arctan2(2 * jxy, jxx - jyy), np.pi),
        "anisotropy": np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2),
        "lab": rgb2lab(image),
    }


def orientation_histogram(theta: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Anisotropy-weighted histogram of orientations over [0, pi), normalised to sum 1 (uniform if no weight)."""
    h, _ = np.histogram(theta, bins=ORIENTATION_BINS, range=(0.0, np.pi), weights=weight)
    total = h.sum()
    return h / total if total > 0 else np.full(ORIENTATION_BINS, 1.0 / ORIENTATION_BINS)


def context_window(region: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Rows and columns of the bounding box of bool ``region`` (H, W) grown by ``margin`` px, clipped."""
    ys, xs = np.nonzero(region)
    H, W = region.shape
    return (slice(max(0, ys.min() - margin), min(H, ys.max() + 1 + margin)),
            slice(max(0, xs.min() - margin), min(W, xs.max() + 1 + margin)))


def terms_of(st: dict[str, np.ndarray], mask: np.ndarray, ring: np.ndarray) -> dict[str, float]:
    """The four terms and their sum from :func:`local_statistics` maps, fill ``mask`` and ``ring`` (H, W)."""
    lab = st["lab"]
    vals = {
        "gradient": wasserstein1(st["gradient"][mask], st["gradient"][ring]),
        "high_freq": wasserstein1(st["high_freq"][mask], st["high_freq"][ring]),
        "orientation": 0.5 * float(np.abs(orientation_histogram(st["theta"][mask], st["anisotropy"][mask])
                                          - orientation_histogram(st["theta"][ring], st["anisotropy"][ring])).sum()),
        "colour": float(np.mean([wasserstein1(lab[..., c][mask], lab[..., c][ring]) / (lab[..., c][ring].std() + 1.0)
                                 for c in range(3)])),
    }
    return {"score": sum(vals.values()), **vals}


def texture_terms(output: np.ndarray, mask: np.ndarray, *, scale_px: int) -> dict[str, float]:
    """The four terms and their sum (module docstring) for an RGB uint8 output and a bool mask (H, W).

    The maps are computed on the bounding box of fill and ring grown by 4 * scale_px + 8 px: every
    filter reaching a fill or ring pixel (Sobel, the sigma-1 and sigma-w/2 Gaussians, truncated at
    4 sigma) stays inside it, so the result equals the whole-image computation."""
    names = ("score", "gradient", "high_freq", "orientation", "colour")
    if not mask.any() or mask.all():
        return dict.fromkeys(names, math.nan)
    ring = ring_of(mask, ring_radius(mask, scale_px))
    if not ring.any():
        return dict.fromkeys(names, math.nan)
    rows, cols = context_window(mask | ring, 4 * scale_px + 8)
    st = local_statistics(output[rows, cols], scale_px=scale_px)
    return terms_of(st, mask[rows, cols], ring[rows, cols])


class TextureScorer(Scorer):
    name = "texture"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    needs_mask = True
    metrics = {"score": Metric("lower", range=(0.0, None)),
               "gradient": Metric("lower", range=(0.0, None)),
               "high_freq": Metric("lower", range=(0.0, None)),
               "orientation": Metric("lower", range=(0.0, 1.0)),
               "colour": Metric("lower", range=(0.0, None))}

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        scale_px: int | None = None  # scale w of the local statistics; None = max(3, round(0.01 * max(H, W)))

    def score(self, task: Task, output) -> dict[str, float]:
        shape = source_shape(task)
        mask = task_mask(task, shape)
        if mask is None:
            return dict.fromkeys(self.metrics, math.nan)
        out = aligned_output(np.asarray(output.image), shape)
        w = self.options.scale_px if self.options.scale_px is not None else auto_px(shape)
        return texture_terms(out, mask, scale_px=w)
