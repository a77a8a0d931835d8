"""background-replace and sky-replace: SAM recipes when a generator's weights exist, box/colour fallbacks
(mask files) on the bundled photos when they do not; the suites they write validate and rebuild byte for byte."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from harness.core.errors import EditbenchError
from tasks.builders import build_suite
from tasks.builders.segment import BUNDLED_SUBJECTS, innermost, sky_mask
from tasks.loading import load_suite
from tasks.validate import validate_suite


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path / "no-weights"))


def test_background_replace_falls_back_to_inverted_boxes(tmp_path, no_weights):
    path = build_suite("background-replace", out=tmp_path / "bg.yaml")
    suite = load_suite(path)
    assert validate_suite(suite) == [] and len(suite.tasks) == len(BUNDLED_SUBJECTS)
    for t in suite.tasks:
        assert t.meta["mask_source"] == "box" and t.meta["edit"] == "background-replace"
        x0, y0, x1, y1 = t.meta["subject_box"]
        m = np.asarray(Image.open(suite.resolve_path(t.mask))) > 127
        assert not m[y0:y1, x0:x1].any() and m.sum() == m.size - (x1 - x0) * (y1 - y0)
        assert t.meta["mask_fraction"] == round(m.mean(), 4)
        assert "a photo of" in t.prompt and "beach" in t.prompt
    first = path.read_bytes()
    assert build_suite("background-replace", out=tmp_path / "bg.yaml").read_bytes() == first
    assert suite.scorers[0] == "subject" and suite.primary == "subject.psnr"
    other = load_suite(build_suite("background-replace", out=tmp_path / "o.yaml", scorers=["background"]))
    assert other.primary is None      # the primary metric only when its scorer runs


def test_background_replace_with_sam_weights_writes_recipes(tmp_path, no_weights):
    suite = load_suite(build_suite("background-replace", out=tmp_path / "bg.yaml", mask_weights="random", n=1,
                                   scene="in a snowy forest"))
    (t,) = suite.tasks
    assert t.mask == {"sam": {"box": list(BUNDLED_SUBJECTS["astronaut.png"][0])}, "invert": True,
                      "model": "sam-vit-b", "weights": "random"}
    assert t.meta["mask_source"] == "sam-vit-b" and t.prompt.endswith("in a snowy forest")
    assert "mask_fraction" not in t.meta      # known only once the mask stage has run
    assert validate_suite(suite) == []


def test_background_replace_explicit_missing_weights_is_an_error(tmp_path):
    with pytest.raises(EditbenchError, match=str(tmp_path / "nowhere")):
        build_suite("background-replace", out=tmp_path / "bg.yaml", mask_weights=str(tmp_path / "nowhere"))


def test_sky_heuristic_and_fallback(tmp_path, no_weights):
    img = np.zeros((40, 50, 3), np.uint8)
    img[:15] = (60, 90, 200)          # sky
    img[15:] = (90, 80, 60)           # ground
    img[5:8, 20:23] = (200, 200, 200)  # a cloud inside the sky: holes are filled
    img[20:25, 0:10] = (10, 20, 200)  # blue but not touching the top: not sky
    m = sky_mask(img)
    expect = np.zeros((40, 50), bool)
    expect[:15] = True
    np.testing.assert_array_equal(m, expect)
    x, y = innermost(m)
    assert m[y, x] and y == 7

    suite = load_suite(build_suite("sky-replace", out=tmp_path / "sky.yaml"))
    (t,) = suite.tasks
    assert t.task_id == "rocket" and t.meta["mask_source"] == "colour" and "sky" in t.prompt
    assert validate_suite(suite) == []
    sam = load_suite(build_suite("sky-replace", out=tmp_path / "sky2.yaml", mask_weights="random"))
    r = sam.tasks[0].mask
    assert r["sam"]["labels"] == [1] and "invert" not in r and len(r["sam"]["box"]) == 4


def test_sky_replace_refuses_images_without_sky(tmp_path, no_weights):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.full((30, 30, 3), (120, 90, 40), np.uint8)).save(folder / "desert.png")
    with pytest.raises(EditbenchError, match="no image .* has a sky"):
        build_suite("sky-replace", out=tmp_path / "s.yaml", images=folder)


def test_background_replace_from_a_folder_and_boxes_csv(tmp_path, no_weights):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(folder / "dog.png")
    (tmp_path / "boxes.csv").write_text("image,x0,y0,x1,y1,subject\ndog.png,10,5,30,35,a dog\ndog.png,35,5,55,35,\n")
    suite = load_suite(build_suite("background-replace", out=tmp_path / "bg.yaml", images=folder,
                                   boxes=tmp_path / "boxes.csv"))
    assert [t.task_id for t in suite.tasks] == ["dog", "dog-1"]
    assert suite.tasks[0].prompt.startswith("a photo of a dog ") and "the subject" in suite.tasks[1].prompt
    assert validate_suite(suite) == []
    (tmp_path / "bad.csv").write_text("image,x0,y0,x1,y1\ndog.png,10,5,90,35\n")
    with pytest.raises(EditbenchError, match="not inside the 60x40 image"):
        build_suite("background-replace", out=tmp_path / "b.yaml", images=folder, boxes=tmp_path / "bad.csv")
