"""Texture consistency: blurred fills and diffusion smears score worse than fills that continue the texture."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from scorers.texture import TextureScorer, orientation_histogram, ring_of, texture_terms, wasserstein1


def _texture(seed=0, shape=(128, 128)):
    rng = np.random.default_rng(seed)
    noise = gaussian_filter(rng.normal(0, 1, (*shape, 3)), sigma=(1.2, 1.2, 0))
    return np.clip(120 + 45 * noise / noise.std(), 0, 255).astype(np.uint8)


def _box(shape, x0, y0, x1, y1):
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def _blur_fill(img, mask, sigma):
    blurred = gaussian_filter(img.astype(float), (sigma, sigma, 0)).round().astype(np.uint8)
    return np.where(mask[..., None], blurred, img)


def test_blurring_the_fill_worsens_texture_consistency():
    img = _texture()
    mask = _box(img.shape[:2], 40, 40, 88, 88)
    scores = [texture_terms(_blur_fill(img, mask, s) if s else img, mask, scale_px=3)["score"] for s in (0, 1, 2, 4)]
    assert all(b > a for a, b in zip(scores, scores[1:])), scores
    assert scores[0] < 0.5 < scores[-1]


def _chelsea_crop():
    """A 180x180 crop of the fur of scikit-image's cat photo and a 60x60 hole in its middle."""
    from skimage.data import chelsea

    img = np.ascontiguousarray(chelsea()[60:240, 140:320])
    return img, _box(img.shape[:2], 60, 60, 120, 120)


def test_telea_and_ns_smears_score_worse_than_patchmatch_on_a_real_photo():
    pytest.importorskip("patchmatch")
    from harness.pipelines.opencv import cv2_inpaint
    from harness.pipelines.patchmatch import patchmatch_inpaint

    img, mask = _chelsea_crop()
    pm = texture_terms(patchmatch_inpaint(img, mask, patch_size=3, seed=0), mask, scale_px=3)
    for method in ("telea", "ns"):
        smear = texture_terms(cv2_inpaint(img, mask, radius=3, method=method), mask, scale_px=3)
        assert smear["score"] > 2 * pm["score"], (method, smear, pm)
        assert smear["gradient"] > pm["gradient"] and smear["high_freq"] > pm["high_freq"]
    # the untouched photo is as consistent as PatchMatch's continuation, and blurring that fill ruins it
    orig = texture_terms(img, mask, scale_px=3)["score"]
    assert orig < 2 * pm["score"]
    assert texture_terms(_blur_fill(img, mask, 3), mask, scale_px=3)["score"] > 3 * orig


def test_orientation_term_sees_streaks_in_another_direction():
    rows = (np.sin(np.arange(128) / 2.0)[:, None] * 60 + 128) * np.ones((1, 128))   # horizontal stripes
    cols = rows.T                                                                      # vertical stripes
    img = np.repeat(rows[..., None], 3, 2).astype(np.uint8)
    mask = _box(img.shape[:2], 40, 40, 88, 88)
    turned = np.where(mask[..., None], np.repeat(cols[..., None], 3, 2).astype(np.uint8), img)
    assert texture_terms(img, mask, scale_px=3)["orientation"] < 0.1
    assert texture_terms(turned, mask, scale_px=3)["orientation"] > 0.8


def test_helpers():
    a = np.random.default_rng(0).normal(0, 1, 5000)
    assert wasserstein1(a, a + 2.0) == pytest.approx(2.0, abs=1e-9)
    assert orientation_histogram(np.zeros(3), np.zeros(3)).sum() == pytest.approx(1.0)
    mask = _box((20, 20), 8, 8, 12, 12)
    ring = ring_of(mask, 2)
    assert not (ring & mask).any() and ring[7, 10] and ring[6, 10] and not ring[5, 10]


def test_scorer_columns_and_missing_mask(task_of, out_of):
    img = _texture()
    mask = _box(img.shape[:2], 40, 40, 88, 88)
    vals = TextureScorer().score(task_of(img, mask=mask), out_of(_blur_fill(img, mask, 3)))
    assert set(vals) == set(TextureScorer.metrics)
    assert vals["score"] == pytest.approx(vals["gradient"] + vals["high_freq"] + vals["orientation"] + vals["colour"])
    assert all(math.isnan(v) for v in TextureScorer().score(task_of(img), out_of(img)).values())


def test_cropped_computation_equals_the_whole_image():
    from scorers.texture import local_statistics, ring_radius, terms_of

    img = _texture(3, shape=(200, 260))
    mask = _box(img.shape[:2], 150, 60, 190, 100)
    out = _blur_fill(img, mask, 2)
    ring = ring_of(mask, ring_radius(mask, 4))
    whole = terms_of(local_statistics(out, scale_px=4), mask, ring)
    assert texture_terms(out, mask, scale_px=4) == pytest.approx(whole, rel=1e-9, abs=1e-12)


def test_with_a_ground_truth_the_truth_scores_zero_and_no_shifted_or_mirrored_fill_beats_it(task_of, out_of):
    """Calibrated on the truth's own fill: a fill's distance is to what was there, never below the truth."""
    from bench.degradations import degrade

    img, mask = _chelsea_crop()
    holed = img.copy()
    holed[mask] = 128
    task = task_of(holed, mask=mask, target=img)
    scorer = TextureScorer(scale_px=3)
    truth = scorer.score(task, out_of(img))
    assert truth == dict.fromkeys(TextureScorer.metrics, 0.0)
    for name in ("shift4", "mirror", "blur2"):
        assert scorer.score(task, out_of(degrade(name, img, mask)))["score"] > 0.0, name
    # the same fill measured against the truth is not the same as against the output's own ring
    own_ring = texture_terms(degrade("blur2", img, mask), mask, scale_px=3)["score"]
    assert scorer.score(task, out_of(degrade("blur2", img, mask)))["score"] != own_ring
