"""Seam v3: the ground truth scores 0, a brightness step raises the step component, a flat or noisy fill
moves the flatness component, and the removed object never enters the zero point."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from scorers.seam import SeamScorer, contour_distance, seam_components, seam_statistics, signed_distance

H, W = 96, 96


def _textured(seed=0, *, contrast=40.0):
    """Blurred noise plus a horizontal gradient, RGB uint8 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    noise = gaussian_filter(rng.normal(0, 1, (H, W, 3)), sigma=(2, 2, 0))
    img = 110 + contrast * noise / noise.std() + np.linspace(0, 30, W)[None, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _disc(radius=20):
    yy, xx = np.mgrid[0:H, 0:W]
    return (xx - 48) ** 2 + (yy - 48) ** 2 <= radius ** 2


def _step(img, mask, delta):
    return np.clip(img.astype(int) + np.where(mask[..., None], delta, 0), 0, 255).astype(np.uint8)


def _fill(img, mask, other):
    out = img.copy()
    out[mask] = other[mask]
    return out


def test_the_ground_truth_scores_exactly_zero_on_every_component(task_of, out_of):
    img, mask = _textured(), _disc()
    holed = img.copy()
    holed[mask] = 128
    vals = SeamScorer(band_px=3).score(task_of(holed, mask=mask, target=img), out_of(img))
    assert vals == {"step": 0.0, "flatness": 0.0, "score": 0.0}


def test_a_brightness_step_raises_step_and_score_on_sharp_and_flat_fills():
    mask = _disc()
    for seed in range(3):
        truth = _textured(seed)
        other = _fill(truth, mask, _textured(seed + 10))                       # a plausible, different texture
        flat = _fill(truth, mask, gaussian_filter(truth.astype(float), (4, 4, 0)).astype(np.uint8))
        for fill in (truth, other, flat):
            base = seam_components(fill, truth, mask, band_px=3, truth=True)
            stepped = seam_components(_step(fill, mask, 20), truth, mask, band_px=3, truth=True)
            assert stepped["step"] > base["step"] + 0.2 and stepped["step"] > 0.3, (seed, base, stepped)
            assert stepped["score"] > base["score"], (seed, base, stepped)


def test_flat_fill_is_flatness_and_noise_is_negative_flatness_not_a_step():
    mask = _disc()
    truth = _textured()
    blurred = _fill(truth, mask, gaussian_filter(truth.astype(float), (4, 4, 0)).round().astype(np.uint8))
    noisy = _fill(truth, mask, np.clip(truth + np.random.default_rng(0).normal(0, 25, truth.shape), 0, 255).astype(np.uint8))
    b = seam_components(blurred, truth, mask, band_px=3, truth=True)
    n = seam_components(noisy, truth, mask, band_px=3, truth=True)
    assert b["flatness"] > 1.0 and b["step"] < 0.5
    assert n["flatness"] < -0.5 and n["score"] > 0.5


def test_the_removed_object_never_enters_the_zero_point(task_of, out_of, tmp_path):
    """Without a ground truth the zero point is read on the source with the contour moved 3w px out: the
    object inside the mask, even with its edge on the contour, leaves every component unchanged."""
    background, mask = _textured(), _disc()
    with_object = background.copy()
    with_object[mask] = 20                                          # dark object exactly under the tight mask
    s = SeamScorer(band_px=3)
    removed = s.score(task_of(with_object, mask=mask), out_of(background))
    (tmp_path / "clean").mkdir()
    from tests.scorers.conftest import make_task

    clean = s.score(make_task(tmp_path / "clean", background, mask=mask), out_of(background))
    assert removed == clean
    seam = s.score(task_of(with_object, mask=mask), out_of(_step(background, mask, 60)))
    assert seam["step"] > removed["step"] + 1.0 and seam["score"] > removed["score"] + 1.0


def test_scorer_resizes_and_handles_no_contour(task_of, out_of):
    from PIL import Image

    src, mask = _textured(), _disc()
    task = task_of(src, mask=mask)
    big = np.asarray(Image.fromarray(_step(src, mask, 80)).resize((192, 192), Image.BICUBIC))
    assert SeamScorer().score(task, out_of(big))["step"] > 1.0
    for t in (task_of(src, mask={"full": True}), task_of(src)):
        assert all(math.isnan(v) for v in SeamScorer().score(t, out_of(src)).values())


def test_signed_distance_definition():
    mask = np.zeros((40, 40), bool)
    mask[15:25, 15:25] = True
    d = contour_distance(mask)
    assert d[15, 20] == 1 and d[14, 20] == 1      # pixels touching the contour, inside and outside
    sd = signed_distance(mask)
    assert sd[14, 20] == 0.5 and sd[15, 20] == -0.5 and sd[10, 20] == 4.5
    t, f = seam_statistics(_textured()[:40, :40], mask, band_px=2)
    assert math.isfinite(t) and math.isfinite(f)


def test_telea_smear_on_a_real_photo_is_flatter_than_patchmatch():
    pytest.importorskip("patchmatch")
    from harness.pipelines.opencv import cv2_inpaint
    from harness.pipelines.patchmatch import patchmatch_inpaint
    from tests.scorers.test_texture_scorer import _chelsea_crop

    img, mask = _chelsea_crop()
    holed = img.copy()
    holed[mask] = 128
    pm = seam_components(patchmatch_inpaint(holed, mask, patch_size=3, seed=0), img, mask, band_px=3, truth=True)
    for method in ("telea", "ns"):
        smear = seam_components(cv2_inpaint(holed, mask, radius=3, method=method), img, mask, band_px=3, truth=True)
        assert smear["flatness"] > pm["flatness"] + 0.5 and smear["score"] > pm["score"]
