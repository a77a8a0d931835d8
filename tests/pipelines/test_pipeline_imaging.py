"""Conversions and mask handling shared by the adapters."""

from __future__ import annotations

import time

import numpy as np

from harness.pipelines.diffusers_common import StageProbe
from harness.pipelines.imaging import (
    dilate_mask,
    extend_canvas,
    feather_mask,
    keep_mask_for_repaint,
    paste_back,
    rgb_to_bgr,
    work_size,
)


def test_repaint_mask_polarity():
    ours = np.array([[1.0, 0.0], [0.25, 1.0]], np.float32)     # 1 = regenerate
    np.testing.assert_array_equal(keep_mask_for_repaint(ours), [[0.0, 1.0], [0.75, 0.0]])  # 1 = keep


def test_dilate_and_feather():
    m = np.zeros((21, 21), bool)
    m[10, 10] = True
    d = dilate_mask(m, 3)
    assert d.sum() > 1 and d[10, 13] and not d[10, 14]
    soft = feather_mask(d, 4)
    assert soft[d].min() == 1.0                         # the hole stays fully regenerated
    assert 0 < soft[10, 15] < 1 and soft[0, 0] == 0.0   # transition outside, exact zeros far away


def test_extend_canvas_edge_fill():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    canvas, mask = extend_canvas(img, (2, 1, 1, 0), fill="edge")
    assert canvas.shape == (3, 6, 3) and mask.shape == (3, 6)
    np.testing.assert_array_equal(canvas[1:, 2:5], img)
    assert mask.sum() == 3 * 6 - 2 * 3
    np.testing.assert_array_equal(canvas[1:, 0], img[:, 0])    # left border replicated


def test_paste_back_is_exact_where_the_mask_is_zero():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    soft = np.zeros((8, 8), np.float32)
    soft[2:5, 2:5] = 1.0
    soft[5, 2:5] = 0.5
    out = paste_back(a, b, soft)
    np.testing.assert_array_equal(out[soft == 0], b[soft == 0])
    np.testing.assert_array_equal(out[soft == 1], a[soft == 1])


def test_rgb_bgr_and_work_size():
    x = np.zeros((1, 1, 3), np.uint8)
    x[..., 0] = 255
    assert rgb_to_bgr(x)[0, 0, 2] == 255
    assert work_size(48, 64, long_side=512, multiple=8) == (384, 512)
    assert work_size(300, 451, long_side=1024, multiple=16) == (688, 1024)


def test_stage_probe_splits_one_call():
    import torch

    den = torch.nn.Linear(2, 2)

    class Vae:
        def decode(self, x):
            time.sleep(0.02)
            return x

    vae = Vae()
    with StageProbe([den], vae) as probe:
        time.sleep(0.03)                     # "encode"
        for _ in range(3):
            den(torch.zeros(1, 2))
        time.sleep(0.01)
        vae.decode(1)
    s = probe.split()
    assert s["encode"] >= 25 and s["decode"] >= 15 and s["denoise"] >= 5
    total = (probe.t_end - probe.t0) * 1e3
    assert sum(s.values()) == __import__("pytest").approx(total)
    assert "decode" not in vars(vae) and not den._forward_pre_hooks   # hooks removed


def test_non_finite_pipeline_output_is_an_error():
    import pytest

    from harness.pipelines.imaging import float_to_uint8

    x = np.full((2, 2, 3), 0.5, np.float32)
    np.testing.assert_array_equal(float_to_uint8(x), 128)
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        float_to_uint8(x)


def test_outpaint_task_mask_is_added_to_the_new_area(image_file):
    from harness.pipelines.imaging import prepare_edit
    from tasks.schema import Task

    task = Task(task_id="o", kind="outpaint", image=str(image_file), mask={"box": [0, 0, 4, 4]},
                overrides={"outpaint": {"right": 10}})
    inp = prepare_edit(task)
    assert inp.canvas.shape == (48, 74, 3)
    assert inp.mask[:, 64:].all() and inp.mask[:4, :4].all() and inp.mask.sum() == 48 * 10 + 16


def test_device_and_dtype_resolution():
    import pytest
    import torch

    from harness.core.errors import EditbenchError
    from harness.pipelines.diffusers_common import resolve_device, resolve_dtype

    assert resolve_dtype("auto", "cpu", gpu_default="float16") is torch.float32
    assert resolve_dtype("auto", "cuda", gpu_default="bfloat16") is torch.bfloat16
    assert resolve_dtype("float16", "cpu", gpu_default="bfloat16") is torch.float16
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(EditbenchError, match="no CUDA device"):
            resolve_device("cuda")
