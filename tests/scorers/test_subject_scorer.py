"""subject (PSNR/SSIM over the kept subject) and mask_iou (stored mask vs reference), against skimage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from scorers.subject import MaskIouScorer, SubjectScorer, mask_iou, subject_region
from tests.scorers.conftest import save_png


def _images():
    rng = np.random.default_rng(1)
    src = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    out = src.copy()
    return src, out


def test_inverted_sam_subject_is_the_object_before_dilation(task_of, out_of):
    src, out = _images()
    obj = np.zeros((60, 80), bool)
    obj[10:40, 20:50] = True                        # the segmented subject; the stored mask is its complement
    out[~obj] = 0                                   # background fully replaced: subject untouched
    task = task_of(src, mask=~obj, meta={"mask_recipe": {"sam": {"box": [20, 10, 50, 40]}, "invert": True}},
                   overrides={"mask_dilate": 3})
    np.testing.assert_array_equal(subject_region(task, (60, 80)), obj)
    vals = SubjectScorer().score(task, out_of(out))
    assert vals["psnr"] == 100.0 and vals["ssim"] == pytest.approx(1.0)
    out2 = out.copy()
    out2[10:13, 20:50] = 255 - src[10:13, 20:50]    # a dilation ate the subject's top edge
    vals2 = SubjectScorer().score(task, out_of(out2))
    ref = peak_signal_noise_ratio(src[obj], out2[obj], data_range=255)
    assert vals2["psnr"] == pytest.approx(ref, rel=1e-9) and vals2["ssim"] < 1.0


def test_subject_box_and_no_subject(task_of, out_of):
    src, out = _images()
    out[:, :40] = 0
    boxed = task_of(src, mask={"box": [0, 0, 40, 60]}, meta={"subject_box": [40, 0, 80, 60]})
    assert SubjectScorer().score(boxed, out_of(out))["psnr"] == 100.0
    plain = task_of(src, mask={"box": [0, 0, 40, 60]})
    assert all(math.isnan(v) for v in SubjectScorer().score(plain, out_of(out)).values())


def test_mask_iou_against_reference(task_of, out_of, tmp_path):
    src, out = _images()
    a = np.zeros((60, 80), bool)
    a[0:30, 0:40] = True          # 1200 px
    b = np.zeros((60, 80), bool)
    b[0:30, 20:60] = True         # 1200 px, 600 shared
    ref = save_png(tmp_path / "ref.png", b.astype(np.uint8) * 255)
    task = task_of(src, mask=a, meta={"mask_recipe": {"sam": {"box": [0, 0, 40, 30]}, "reference": ref}})
    assert MaskIouScorer().score(task, out_of(out))["iou"] == pytest.approx(600 / 1800)
    assert mask_iou(a, a) == 1.0 and mask_iou(a & False, b & False) == 1.0
    assert math.isnan(MaskIouScorer().score(task_of(src, mask=a), out_of(out))["iou"])
