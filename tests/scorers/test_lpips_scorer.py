"""LPIPS from local weights only: trunk and heads loaded by name, never downloaded; distance inside the mask."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from harness.core.errors import WeightsNotFound
from scorers.perceptual import LpipsScorer, build_lpips, lpips_crop


def _photo():
    from skimage.data import chelsea

    return np.ascontiguousarray(chelsea()[60:220, 140:300])


def _blur_hole(img, box, sigma):
    x0, y0, x1, y1 = box
    out = img.copy()
    blurred = gaussian_filter(img.astype(float), (sigma, sigma, 0)).round().astype(np.uint8)
    out[y0:y1, x0:x1] = blurred[y0:y1, x0:x1]
    return out


def test_builds_without_downloading_and_loads_the_saved_trunk_and_heads(lpips_weights, monkeypatch):
    import torch

    def no_download(*a, **k):
        raise AssertionError("LPIPS tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    model = build_lpips(lpips_weights)
    saved = torch.load(lpips_weights / "alexnet.pth", weights_only=True)
    assert torch.equal(model.net.slice1[0].weight, saved["features.0.weight"])
    assert torch.equal(model.net.slice5._modules["10"].weight, saved["features.10.weight"])
    heads = torch.load(lpips_weights / "alex.pth", weights_only=True)
    assert torch.equal(model.lin0.model[1].weight, heads["lin0.model.1.weight"])


def test_distance_zero_for_the_target_and_grows_with_blur_inside_the_hole(loaded_scorers, task_of, out_of):
    s = loaded_scorers("lpips")
    img = _photo()
    box = [50, 50, 110, 110]
    task = task_of(img, mask={"box": box}, target=img)
    assert s.score(task, out_of(img))["distance"] == 0.0
    d = [s.score(task, out_of(_blur_hole(img, box, sigma)))["distance"] for sigma in (1, 3)]
    assert 0 < d[0] < d[1]
    outside = img.copy()
    outside[:10] = 0                          # far from the hole: outside the crop
    assert s.score(task, out_of(outside))["distance"] == 0.0


def test_nan_without_target_and_missing_weights_name_the_path(loaded_scorers, task_of, out_of, tmp_path, monkeypatch):
    img = _photo()
    assert math.isnan(loaded_scorers("lpips").score(task_of(img, mask={"box": [5, 5, 20, 20]}), out_of(img))["distance"])
    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path / "none"))
    with pytest.raises(WeightsNotFound, match="lpips"):
        LpipsScorer().check()
    bad = tmp_path / "bad"
    bad.mkdir()
    import torch

    torch.save({"features.0.weight": torch.zeros(1)}, bad / "alexnet.pth")
    with pytest.raises(WeightsNotFound, match="not a torchvision AlexNet"):
        build_lpips(bad)


def test_crop_grows_to_the_minimum_side_within_the_image():
    mask = np.zeros((100, 200), bool)
    mask[2:6, 150:160] = True
    rows, cols = lpips_crop(mask, margin_px=4)
    assert rows == slice(0, 64)                               # slid inside the image at the top border
    assert cols.stop - cols.start == 64 and cols.start <= 150 and cols.stop >= 160
