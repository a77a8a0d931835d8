"""The reconstruction builder: holes over the most textured content, the truth hidden from pipelines, target = original."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from harness.cli import app
from harness.core.imageio import load_image, mask_from_recipe
from tasks.builders.reconstruction import HOLE_GREY, textured_holes
from tasks.loading import load_suite
from tasks.validate import validate_suite
from tests.tasks.helpers import write_png


def build(*args) -> CliRunner:
    return CliRunner().invoke(app, ["suite", "build", "reconstruction", *map(str, args)])


def _flat_with_texture(x0, y0, x1, y1, shape=(120, 160)):
    """A flat grey image with random texture only in [y0:y1, x0:x1]."""
    img = np.full((*shape, 3), 100, np.uint8)
    img[y0:y1, x0:x1] = np.random.default_rng(0).integers(0, 256, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
    return img


def test_holes_go_over_texture_and_the_suite_hides_the_truth(tmp_path):
    img = _flat_with_texture(90, 30, 140, 90)
    write_png(tmp_path / "img" / "a.png", img)
    res = build("--images", tmp_path / "img", "--out", tmp_path / "r.yaml")
    assert res.exit_code == 0, res.output
    suite = load_suite(tmp_path / "r.yaml")
    (t,) = suite.tasks
    x0, y0, x1, y1 = t.mask["box"]
    assert x1 - x0 == y1 - y0 == 30                          # 0.25 x the short side
    assert 90 <= x0 and x1 <= 140 and 30 <= y0 and y1 <= 90  # inside the textured patch
    assert t.params == {"edit": "reconstruction", "mask_fraction": round(900 / (120 * 160), 4)}
    assert np.array_equal(load_image(suite.resolve_path(t.target)), img)
    holed = load_image(suite.resolve_path(t.image))
    mask = mask_from_recipe(t.mask, img.shape[:2])
    assert (holed[mask] == HOLE_GREY).all() and np.array_equal(holed[~mask], img[~mask])
    assert set(suite.scorers) >= {"lpips", "fidelity", "texture"} and validate_suite(suite) == []
    first = (tmp_path / "r.yaml").read_bytes()
    assert build("--images", tmp_path / "img", "--out", tmp_path / "r.yaml").exit_code == 0   # the holes folder is skipped
    assert (tmp_path / "r.yaml").read_bytes() == first


def test_several_holes_keep_apart_and_off_the_border():
    img = np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    boxes = textured_holes(img, holes=3, size=0.2)
    assert len(boxes) == 3
    for i, a in enumerate(boxes):
        assert a[0] >= 20 and a[1] >= 20 and a[2] <= 180 and a[3] <= 180    # half a side from the border
        for b in boxes[i + 1:]:
            assert a[2] + 20 <= b[0] or b[2] + 20 <= a[0] or a[3] + 20 <= b[1] or b[3] + 20 <= a[1]


def test_images_too_small_for_a_hole_are_a_bad_input(tmp_path):
    write_png(tmp_path / "img" / "tiny.png", np.zeros((10, 10, 3), np.uint8))
    res = build("--images", tmp_path / "img", "--hole-size", "0.4", "--out", tmp_path / "r.yaml")
    assert res.exit_code == 2 and "too small" in res.output
