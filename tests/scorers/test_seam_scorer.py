"""Seam on the output alone: perfect fills score as perfect fills whatever the source held, a step along
the contour raises the score monotonically, and blurring the whole output leaves it about unchanged."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from scorers.seam import SeamScorer, contour_distance, seam_bands, seam_log_ratio, seam_score

H, W = 96, 96


def _textured(seed=0, *, contrast=40.0):
    """Blurred noise plus a horizontal gradient, RGB uint8 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    noise = gaussian_filter(rng.normal(0, 1, (H, W, 3)), sigma=(2, 2, 0))
    img = 110 + contrast * noise / noise.std() + np.linspace(0, 30, W)[None, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _disc(radius=24):
    yy, xx = np.mgrid[0:H, 0:W]
    return (xx - 48) ** 2 + (yy - 48) ** 2 <= radius ** 2


def _step(img, mask, delta):
    return np.clip(img.astype(int) + np.where(mask[..., None], delta, 0), 0, 255).astype(np.uint8)


def test_perfect_removal_scores_as_the_clean_background_whatever_the_source_held(task_of, out_of, tmp_path):
    """The object's edge lies in the ring just inside the mask contour: only the source shows it."""
    background, mask = _textured(), _disc(24)
    with_object = background.copy()
    with_object[_disc(24 - 2 * 3)] = (230, 30, 30)       # edge 6 px inside the contour, in the band/ring
    s = SeamScorer(band_px=3)
    removal = s.score(task_of(with_object, mask=mask), out_of(background))["score"]
    (tmp_path / "clean").mkdir()
    from tests.scorers.conftest import make_task

    untouched = s.score(make_task(tmp_path / "clean", background, mask=mask), out_of(background))["score"]
    assert removal == untouched
    # and a perfect fill is far from a real seam on the same image
    assert removal < 0.5 < s.score(task_of(with_object, mask=mask), out_of(_step(background, mask, 60)))["score"]


def test_brightness_step_inside_the_mask_rises_monotonically():
    mask = _disc()
    smooth = _textured(contrast=3.0)
    scores = [seam_score(_step(smooth, mask, d), mask, band_px=3) for d in (0, 5, 10, 20, 40, 80)]
    assert scores[0] < 0.5
    assert all(b > a for a, b in itertools.pairwise(scores)), scores
    for seed in range(4):                      # on texture, the signed log ratio rises with every step
        img = _textured(seed)
        signed = [seam_log_ratio(_step(img, mask, d), mask, band_px=3) for d in (0, 10, 20, 40, 80)]
        assert all(b > a for a, b in itertools.pairwise(signed)), (seed, signed)
        assert seam_score(_step(img, mask, 40), mask, band_px=3) > seam_score(img, mask, band_px=3)


def test_blurring_the_whole_output_leaves_seam_about_unchanged():
    mask = _disc()
    for seed in range(3):
        img = _textured(seed)
        for out in (img, _step(img, mask, 40)):
            blurred = gaussian_filter(out.astype(float), (1.5, 1.5, 0)).round().astype(np.uint8)
            assert seam_score(blurred, mask, band_px=3) == pytest.approx(seam_score(out, mask, band_px=3), abs=0.2)


def test_scorer_resizes_and_handles_no_contour(task_of, out_of):
    from PIL import Image

    src, mask = _textured(), _disc()
    task = task_of(src, mask=mask)
    big = np.asarray(Image.fromarray(_step(src, mask, 80)).resize((192, 192), Image.BICUBIC))
    assert SeamScorer().score(task, out_of(big))["score"] > 0.5
    assert math.isnan(SeamScorer().score(task_of(src, mask={"full": True}), out_of(src))["score"])
    assert math.isnan(SeamScorer().score(task_of(src), out_of(src))["score"])


def test_band_and_parallel_bands_definition():
    mask = np.zeros((40, 40), bool)
    mask[15:25, 15:25] = True
    d = contour_distance(mask)
    assert d[15, 20] == 1 and d[14, 20] == 1      # pixels touching the contour, inside and outside
    band, parallel, _ = seam_bands(mask, 2)
    assert band[13:17, 20].all() and not band[12, 20] and not band[17, 20]   # 2 px each side
    for b in parallel:
        assert b.any() and not (b & mask).any() and not (b & band).any()    # entirely in the kept region
    assert parallel[0][12, 20] and parallel[0][9, 20] and not parallel[0][8, 20]   # s in (2, 6]


def test_telea_smear_on_a_real_photo_has_a_larger_seam_than_patchmatch():
    """The smear is flatter than the fur at the contour; PatchMatch continues it (three seeds)."""
    pytest.importorskip("patchmatch")
    from harness.pipelines.opencv import cv2_inpaint
    from harness.pipelines.patchmatch import patchmatch_inpaint
    from tests.scorers.test_texture_scorer import _chelsea_crop

    img, mask = _chelsea_crop()
    pm = max(seam_score(patchmatch_inpaint(img, mask, patch_size=3, seed=s), mask, band_px=3) for s in range(3))
    for method in ("telea", "ns"):
        smear = cv2_inpaint(img, mask, radius=3, method=method)
        assert seam_log_ratio(smear, mask, band_px=3) < 0                  # flatter than its parallels
        assert seam_score(smear, mask, band_px=3) > 2 * pm


def test_real_seam_is_seen_when_a_tight_mask_followed_an_object_edge_in_the_source(task_of, out_of):
    """The source's own edge on the contour must not excuse a +100-level seam in the output."""
    background, mask = _textured(contrast=10.0), _disc(24)
    with_object = background.copy()
    with_object[mask] = 20                                   # dark object exactly under the tight mask
    seam = _step(background, mask, 100)
    s = SeamScorer(band_px=3)
    assert s.score(task_of(with_object, mask=mask), out_of(seam))["score"] > 2.0
    assert s.score(task_of(with_object, mask=mask), out_of(background))["score"] < 0.5
