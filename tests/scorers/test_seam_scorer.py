"""Seam residual: 0 for a paste-back of the source, hard > feathered paste, monotone in step strength."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from scorers.seam import SeamScorer, contour_distance, seam_score

H, W = 96, 96


def _textured(seed=0):
    """A smooth-ish natural-looking texture (blurred noise plus a gradient), RGB uint8."""
    rng = np.random.default_rng(seed)
    noise = gaussian_filter(rng.normal(0, 1, (H, W, 3)), sigma=(2, 2, 0))
    img = 110 + 40 * noise / noise.std() + np.linspace(0, 30, W)[None, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _disc():
    yy, xx = np.mgrid[0:H, 0:W]
    return (xx - 48) ** 2 + (yy - 48) ** 2 <= 24 ** 2


def _composite(src, fill, mask, feather_px):
    """Paste ``fill`` into ``mask`` with a linear alpha ramp of ``feather_px`` inside the contour."""
    d = contour_distance(mask)
    alpha = np.where(mask, np.clip(d / max(feather_px, 1), 0, 1) if feather_px else 1.0, 0.0)[..., None]
    return np.clip(alpha * fill + (1 - alpha) * src, 0, 255).round().astype(np.uint8)


def test_paste_back_of_the_source_scores_zero():
    src, mask = _textured(), _disc()
    assert seam_score(src, src.copy(), mask, band_px=3) == 0.0
    # a regeneration that re-synthesises similar texture inside the mask: no seam beyond noise
    other = _textured(seed=1)
    paste = np.where(mask[..., None], other, src)
    assert seam_score(src, paste, mask, band_px=3) < 0.5
    # a slightly noisy / blurred copy of the source pasted back (a VAE round trip, say): near 0
    noisy = np.clip(src + np.random.default_rng(0).normal(0, 2, src.shape), 0, 255).round().astype(np.uint8)
    assert seam_score(src, np.where(mask[..., None], noisy, src), mask, band_px=3) < 0.05
    blurred = gaussian_filter(src.astype(float), (1, 1, 0)).round().astype(np.uint8)
    assert seam_score(src, np.where(mask[..., None], blurred, src), mask, band_px=3) < 0.05


def test_hard_flat_patch_scores_higher_than_feathered():
    src, mask = _textured(), _disc()
    flat = np.full_like(src, 230)
    hard = seam_score(src, _composite(src, flat, mask, 0), mask, band_px=4)
    feathered = seam_score(src, _composite(src, flat, mask, 4), mask, band_px=4)
    assert hard > feathered > 0
    assert hard > 1.0


def test_monotone_in_step_strength():
    src, mask = _textured(), _disc()
    scores = []
    for delta in (0, 5, 10, 20, 40, 80):
        out = np.clip(src.astype(int) + np.where(mask[..., None], delta, 0), 0, 255).astype(np.uint8)
        scores.append(seam_score(src, out, mask, band_px=3))
    assert scores[0] == 0.0
    assert all(b > a for a, b in itertools.pairwise(scores)), scores
    assert scores[-1] > 1.0


def test_scorer_resizes_and_handles_no_contour(task_of, out_of):
    from PIL import Image

    src, mask = _textured(), _disc()
    task = task_of(src, mask=mask)
    hard = _composite(src, np.full_like(src, 230), mask, 0)
    big = np.asarray(Image.fromarray(hard).resize((192, 192), Image.BICUBIC))
    assert SeamScorer().score(task, out_of(big))["score"] > 0.5
    assert math.isnan(SeamScorer().score(task_of(src, mask={"full": True}), out_of(src))["score"])
    assert math.isnan(SeamScorer().score(task_of(src), out_of(src))["score"])


def test_band_and_rings_definition():
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    d = contour_distance(mask)
    assert d[5, 10] == 1 and d[4, 10] == 1      # pixels touching the contour, inside and outside
    assert d[7, 10] == 3 and d[1, 10] == 4
    assert d.min() == pytest.approx(1.0)
