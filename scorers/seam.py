"""Seam v3: a step along the mask contour and a fill flatter (or busier) than the photo, each signed and
measured against the untouched photo's own value, so a ground truth scores 0.

On the source grid (an output of another size is resized; scorers/regions.py), with M the mask and
X an image (the output O, or the reference R below):

- L = Rec. 601 luma of X in [0, 1]; d = Euclidean distance of a pixel to the other side of the
  contour (>= 1); signed distance s = d - 1/2 outside M, -(d - 1/2) inside; n = unit normal of the
  contour, the gradient of s smoothed by a Gaussian of sigma 1;
- g_n = (grad L . n)^2, the squared luma derivative across the contour direction, and
  e = |grad L|^2 (Sobel / 8, so a unit ramp has derivative 1 per pixel); w = ``band_px`` (default
  max(3, round(0.01 * max(H, W))));
- step statistic   T(X) = ln((mean g_n on the contour line {|s| <= 1} + eps)
                             / (mean over k = 1..3 of mean g_n on {|s - 2kw| <= 1} + eps)):
  the cross-contour derivative on the contour against three parallel lines of the same shape in the
  kept region (w, 2w, ... apart);
- flatness statistic F(X) = ln((mean e on the inner band {-2w <= s < -1} + eps)
                              / (mean e on the outer band {1 < s <= 2w} + eps)):
  the fill's texture energy next to the contour against the kept side's; eps = 1e-8.

Zero point (the untouched photo on the same geometry): R = ``task.target`` with the same mask when the
task has a ground truth of the source's size; otherwise the source (for outpaint the canvas) with the
contour moved 3w px into the kept region (M grown by 3w), so both statistics are read on pixels no
pipeline touched and the object being removed (inside M) cannot enter them.

- ``seam.step``     = T(O) - T(R)   (> 0: a visible step or line along the contour)
- ``seam.flatness`` = F(R) - F(O)   (> 0: the fill is flatter than the photo there; < 0: busier, e.g. noise)
- ``seam.score``    = max(step, 0) + |flatness|   (lower is better; 0 = the photo's own contour)

A step and a too-flat fill land in different named columns and no longer cancel: a +20 brightness step
raises ``step`` (and the score) whatever the fill's texture; a blur or a diffusion smear raises
``flatness``. A contour smoother than the photo's (step < 0, e.g. Telea continuing the boundary
colours) is not a seam and is not counted in the score. Blind to: defects away from the contour (a
wrong object in the middle of the fill - ``texture``, ``removal``), wrong but continuous content,
colour changes of equal luma. NaN when the mask is missing, empty or full, or the kept region holds
no parallel line.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.core.imageio import load_image
from scorers.base import Metric, Scorer
from scorers.regions import aligned_output, auto_px, dilate, luminance, source_image, task_mask
from scorers.texture import context_window
from tasks.schema import Task

EPS = (1.0 / 255.0) ** 2  # one uint8 level, squared: the floor of every energy
N_PARALLEL = 3  # parallel reference lines in the kept region
ALONG = 4.0     # the step is averaged along the contour over a Gaussian of ALONG * w px
CONTEXT = 4 * ALONG + 6  # px (in units of w) that the filters reach beyond the outermost line


def contour_distance(mask: np.ndarray) -> np.ndarray:
    """Distance of every pixel to the other side of the mask contour (>= 1), float (H, W)."""
    from scipy.ndimage import distance_transform_edt

    return np.where(mask, distance_transform_edt(mask), distance_transform_edt(~mask))


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Signed distance to the contour, positive in the kept region, negative inside the mask, float (H, W).

    Pixels touching the contour get +-0.5 (the contour lies between pixel centres)."""
    return np.where(mask, -(contour_distance(mask) - 0.5), contour_distance(mask) - 0.5)


def gradient_energy(image: np.ndarray) -> np.ndarray:
    """|grad L|^2 of an RGB uint8 image's luma (Sobel / 8), float (H, W)."""
    from scipy.ndimage import sobel

    lum = luminance(image)
    gx = sobel(lum, axis=1, mode="nearest") / 8.0
    gy = sobel(lum, axis=0, mode="nearest") / 8.0
    return gx * gx + gy * gy


def strip_mean(image: np.ndarray, strip: np.ndarray, *, sigma: float) -> np.ndarray:
    """Gaussian-weighted local mean (sigma px) of each RGB channel over the pixels of bool ``strip`` only,
    float (H, W, 3) in [0, 1] (NaN where the strip has no weight)."""
    from scipy.ndimage import gaussian_filter

    x = image.astype(np.float64) / 255.0
    wgt = gaussian_filter(strip.astype(np.float64), sigma, mode="constant")
    num = np.stack([gaussian_filter(x[..., c] * strip, sigma, mode="constant") for c in range(3)], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / wgt[..., None]


def jump_vectors(image: np.ndarray, sd: np.ndarray, at: float, *, width: float) -> np.ndarray | None:
    """(N, 3) jump vectors on the N pixels of the line {|s - at| <= 1}: the RGB difference m_in - m_out of
    the local means (sigma = width) of the strips {at - width <= s < at} and {at < s <= at + width},
    averaged along the line by a Gaussian of sigma ALONG * width (a consistent step survives, texture
    averages out). None when the line or a strip is empty."""
    from scipy.ndimage import gaussian_filter

    line = np.abs(sd - at) <= 1.0
    inner = (sd >= at - width) & (sd < at)
    outer = (sd > at) & (sd <= at + width)
    if not line.any() or not inner.any() or not outer.any():
        return None
    d = np.nan_to_num(strip_mean(image, inner, sigma=width) - strip_mean(image, outer, sigma=width)) * line[..., None]
    sigma = ALONG * width
    wgt = gaussian_filter(line.astype(np.float64), sigma, mode="constant")[line]
    along = np.stack([gaussian_filter(d[..., c], sigma, mode="constant")[line] for c in range(3)], axis=-1)
    return along / wgt[:, None]


def _window(mask: np.ndarray, band_px: int) -> tuple[slice, slice]:
    """The part of the grid every filter of the statistics reaches (CONTEXT * w px beyond the lines)."""
    near = np.abs(signed_distance(mask)) <= (2 * N_PARALLEL + 1) * band_px + 1
    return context_window(near, int(math.ceil(CONTEXT * band_px)) + 2)


def seam_statistics(image: np.ndarray, mask: np.ndarray, *, band_px: int,
                    truth: np.ndarray | None = None) -> tuple[float, float]:
    """(T, F) of an RGB uint8 image (H, W, 3) on a bool mask (module docstring); ``truth`` (same grid):
    the step is the jump's departure from the truth's jump. NaN when the mask is empty or full or no
    parallel line or band holds a pixel. Computed on the window the filters reach (:func:`_window`), so
    the result equals the whole-image computation."""
    if not mask.any() or mask.all():
        return math.nan, math.nan
    rows, cols = _window(mask, band_px)
    sd = signed_distance(mask)[rows, cols]
    image = image[rows, cols]
    w = float(band_px)
    inner, outer = (sd >= -2 * w) & (sd < -1.0), (sd > 1.0) & (sd <= 2 * w)
    par = [v for k in range(1, N_PARALLEL + 1) if (v := jump_vectors(image, sd, 2 * k * w, width=w)) is not None]
    jump = jump_vectors(image, sd, 0.0, width=w)
    if not par or jump is None or not inner.any() or not outer.any():
        return math.nan, math.nan
    if truth is not None:
        jump = jump - jump_vectors(truth[rows, cols], sd, 0.0, width=w)
    natural = float(np.mean([(v * v).sum(axis=-1).mean() for v in par]))
    step = math.log((float((jump * jump).sum(axis=-1).mean()) + natural + EPS) / (natural + EPS))
    e = gradient_energy(image)
    flat = math.log((float(e[inner].mean()) + EPS) / (float(e[outer].mean()) + EPS))
    return step, flat


def seam_components(output: np.ndarray, reference: np.ndarray, mask: np.ndarray, *, band_px: int,
                    truth: bool) -> dict[str, float]:
    """{"step", "flatness", "score"} of an RGB uint8 output against its reference (module docstring):
    ``truth`` = the reference is the ground truth on the same mask, else the source (contour moved)."""
    if truth:
        t_out, f_out = seam_statistics(output, mask, band_px=band_px, truth=reference)
        t_ref, f_ref = 0.0, seam_statistics(reference, mask, band_px=band_px)[1]
    else:
        t_out, f_out = seam_statistics(output, mask, band_px=band_px)
        t_ref, f_ref = seam_statistics(reference, dilate(mask, 3 * band_px), band_px=band_px)
        if math.isnan(t_ref):      # the moved contour left the image: the photo's zero is unknown, use 0
            t_ref, f_ref = 0.0, 0.0
    step, flatness = t_out - t_ref, f_ref - f_out
    return {"step": step, "flatness": flatness, "score": max(step, 0.0) + abs(flatness)}


class SeamScorer(Scorer):
    name = "seam"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    needs_mask = True
    metrics = {"score": Metric("lower", range=(0.0, None), version=3),
               "step": Metric("lower", version=3),
               "flatness": Metric("lower", version=3)}

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        band_px: int | None = None  # width w of the bands; None = max(3, round(0.01 * max(H, W)))

    def score(self, task: Task, output) -> dict[str, float]:
        src = source_image(task)
        shape = src.shape[:2]
        mask = task_mask(task, shape)
        if mask is None:
            return dict.fromkeys(self.metrics, math.nan)
        out = aligned_output(np.asarray(output.image), shape)
        w = self.options.band_px if self.options.band_px is not None else auto_px(shape)
        reference, truth = src, False
        if task.target is not None:
            target = load_image(task.target)
            if target.shape[:2] == shape:
                reference, truth = target, True
        return seam_components(out, reference, mask, band_px=w, truth=truth)
