"""mask-leakage-sweep: noise of each sigma in the kept region only, deterministic, declared as a sweep axis."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from harness.cli import app
from harness.core.imageio import load_image, mask_from_recipe
from tasks.builders.leakage import noisy_kept_region
from tasks.loading import load_suite
from tasks.validate import validate_suite
from tests.tasks.helpers import write_png


def _base(tmp_path):
    rng = np.random.default_rng(1)
    write_png(tmp_path / "data" / "a.png", rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))
    base = tmp_path / "data" / "base.yaml"
    base.write_text("name: base\nversion: '1'\npipelines: [cv2-telea]\nscorers: [seam]\ntasks:\n"
                    "  - {task_id: t0, kind: inpaint, image: a.png, mask: {box: [10, 8, 30, 24]}}\n")
    return base


def test_noise_lands_only_outside_the_mask_and_rebuilds_identically(tmp_path):
    base = _base(tmp_path)
    out = tmp_path / "sweep" / "leak.yaml"
    args = ["suite", "build", "mask-leakage-sweep", "--from", str(base), "--out", str(out), "--sigmas", "0,8,24"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    first = out.read_bytes()
    suite = load_suite(out)
    assert suite.sweep == ["noise_sigma"] and validate_suite(suite) == []
    assert [t.task_id for t in suite.tasks] == ["t0-sigma0", "t0-sigma8", "t0-sigma24"]
    clean = load_image(tmp_path / "data" / "a.png").astype(int)
    mask = mask_from_recipe({"box": [10, 8, 30, 24]}, clean.shape[:2]) > 0
    spread = []
    for t in suite.tasks:
        img = load_image(suite.resolve_path(t.image)).astype(int)
        assert (img[mask] == clean[mask]).all()                      # the region to regenerate is untouched
        spread.append(np.abs(img[~mask] - clean[~mask]).mean())
        if t.params["noise_sigma"] > 0:
            assert suite.resolve_path(t.reference) == (tmp_path / "data" / "a.png").resolve()
    assert spread[0] == 0 and 0 < spread[1] < spread[2]              # more sigma, more noise
    assert CliRunner().invoke(app, args).exit_code == 0 and out.read_bytes() == first


def test_noisy_kept_region_statistics():
    img = np.full((200, 200, 3), 128, np.uint8)
    mask = np.zeros((200, 200), np.uint8)
    mask[50:150, 50:150] = 1
    out = noisy_kept_region(img, mask, sigma=10.0, rng=np.random.default_rng(0)).astype(float)
    assert (out[mask > 0] == 128).all()
    assert abs(out[mask == 0].std() - 10.0) < 0.5
