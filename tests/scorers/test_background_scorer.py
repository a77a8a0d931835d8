"""Background preservation and fidelity: exact values for identical images (PSNR at its ceiling),
agreement with scikit-image, SSIM windows clear of the mask at its corners."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from scorers.background import PSNR_CEILING, BackgroundScorer, region_errors, region_ssim, window_clear
from scorers.fidelity import FidelityScorer


def _image(seed=0, shape=(64, 80)):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, shape[1])[None, :, None] * np.ones((shape[0], 1, 3))
    return np.clip(base + rng.normal(0, 20, (*shape, 3)), 0, 255).astype(np.uint8)


def test_identical_images_give_exact_values(task_of, out_of):
    img = _image()
    task = task_of(img, mask={"box": [20, 20, 40, 40]})
    vals = BackgroundScorer().score(task, out_of(img.copy()))
    assert vals == {"psnr": PSNR_CEILING, "ssim": 1.0, "mse": 0.0, "max_abs": 0.0}
    assert PSNR_CEILING == 100.0


def test_agrees_with_skimage_when_nothing_is_masked(task_of, out_of):
    src, out = _image(0), _image(1)
    vals = BackgroundScorer().score(task_of(src), out_of(out))   # no mask: the whole image is background
    assert vals["psnr"] == pytest.approx(peak_signal_noise_ratio(src, out, data_range=255), rel=1e-12)
    ref_ssim = structural_similarity(src, out, channel_axis=2, data_range=255)
    assert vals["ssim"] == pytest.approx(ref_ssim, rel=1e-12)
    d = src.astype(float) - out.astype(float)
    assert vals["mse"] == pytest.approx(np.mean(d ** 2))
    assert vals["max_abs"] == np.abs(d).max()


def test_changes_inside_the_dilated_mask_are_ignored_outside_are_not(task_of, out_of):
    src = _image()
    task = task_of(src, mask={"box": [20, 20, 40, 40]})
    s = BackgroundScorer(dilate_px=4)
    inside = src.copy()
    inside[18:42, 18:42] = 0          # within the box grown by 4 px
    assert s.score(task, out_of(inside))["mse"] == 0.0
    outside = src.copy()
    outside[0:5, 0:5] = 255 - outside[0:5, 0:5]
    vals = s.score(task, out_of(outside))
    assert vals["max_abs"] == np.abs(outside.astype(int) - src.astype(int)).max()
    assert vals["psnr"] < 40 and vals["ssim"] < 1.0


def test_region_ssim_uses_skimage_map():
    a, b = _image(0), _image(2)
    region = np.zeros(a.shape[:2], bool)
    region[10:30, 5:60] = True
    _, smap = structural_similarity(a, b, channel_axis=2, data_range=255, full=True)
    assert region_ssim(a, b, region) == pytest.approx(smap.mean(axis=2)[region].mean(), rel=1e-12)
    assert math.isnan(region_errors(a, b, np.zeros_like(region))["psnr"])


def test_resized_output_is_compared_on_the_source_grid_and_bad_aspect_raises(task_of, out_of):
    from PIL import Image

    src = _image()
    task = task_of(src, mask={"box": [20, 20, 40, 40]})
    bigger = np.asarray(Image.fromarray(src).resize((160, 128), Image.BICUBIC))
    assert BackgroundScorer().score(task, out_of(bigger))["psnr"] > 25
    with pytest.raises(ValueError, match="aspect ratios differ"):
        BackgroundScorer().score(task, out_of(np.zeros((64, 64, 3), np.uint8)))


def test_fidelity_inside_mask_against_target(task_of, out_of):
    src, target = _image(0), _image(3)
    mask = {"box": [10, 10, 50, 40]}
    task = task_of(src, mask=mask, target=target)
    assert FidelityScorer().score(task, out_of(target.copy())) == {"psnr": PSNR_CEILING, "ssim": 1.0,
                                                                   "texture": 0.0, "gms": 1.0}
    out = target.copy()
    out[10:40, 10:50] = src[10:40, 10:50]
    vals = FidelityScorer().score(task, out_of(out))
    d = out[10:40, 10:50].astype(float) - target[10:40, 10:50].astype(float)
    assert vals["psnr"] == pytest.approx(10 * np.log10(255 ** 2 / np.mean(d ** 2)))
    assert vals["ssim"] < 0.9 and vals["gms"] < 0.9 and vals["texture"] > 0.1
    # changes outside the mask do not count
    out2 = target.copy()
    out2[45:, :] = 0
    assert FidelityScorer().score(task, out_of(out2))["psnr"] == PSNR_CEILING


def test_fidelity_without_target_is_nan(task_of, out_of):
    img = _image()
    vals = FidelityScorer().score(task_of(img, mask={"box": [1, 1, 9, 9]}), out_of(img))
    assert all(math.isnan(v) for v in vals.values())


def test_untouched_background_scores_ssim_one_even_at_mask_corners(task_of, out_of):
    """With k = 4 a pixel diagonal to a mask corner at distance sqrt(18) > 4 has a 7x7 window that
    reaches the corner; such windows are excluded, so garbage inside the mask cannot leak in."""
    src = _image()
    box = [20, 20, 40, 40]
    out = src.copy()
    out[20:40, 20:40] = 255 - out[20:40, 20:40]        # only the masked pixels change
    vals = BackgroundScorer(dilate_px=4).score(task_of(src, mask={"box": box}), out_of(out))
    assert vals["ssim"] == pytest.approx(1.0, abs=1e-12) and vals["psnr"] == PSNR_CEILING and vals["mse"] == 0.0
    mask = np.zeros(src.shape[:2], bool)
    mask[20:40, 20:40] = True
    clear = window_clear(mask)
    assert not clear[17, 17] and not clear[42, 42]        # distance sqrt(18) > 4 from a corner: in R, excluded
    assert clear[16, 17] and clear[17, 16] and clear[43, 43]


def test_psnr_is_capped_never_infinite():
    a = _image()
    b = a.copy()
    b[0, 0, 0] ^= 1                                        # one level in one value: far below the ceiling
    region = np.ones(a.shape[:2], bool)
    assert region_errors(a, a, region)["psnr"] == PSNR_CEILING
    assert region_errors(a, b, region)["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255))
    assert region_errors(a, b, region)["psnr"] < PSNR_CEILING
