"""hand-regen builder: hand boxes from a CSV become inpaint tasks whose ellipse covers each box."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from harness.cli import app
from harness.core.imageio import load_image, mask_from_recipe
from tasks.loading import load_suite
from tasks.validate import validate_suite
from tests.tasks.helpers import bundled_photo


def _build(*args):
    return CliRunner().invoke(app, ["suite", "build", "hand-regen", *map(str, args)])


def test_hand_boxes_become_tasks_whose_mask_covers_the_box(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    shutil.copy(bundled_photo("astronaut.png"), imgs / "astronaut.png")
    boxes = tmp_path / "hands.csv"
    # the astronaut's gloved hand and the helmet's lower edge, boxes read off the image
    boxes.write_text("image,x0,y0,x1,y1\nastronaut.png,120,470,200,512\nastronaut.png,300,400,360,460\n")
    out = tmp_path / "suite" / "hands.yaml"
    res = _build("--images", imgs, "--boxes", boxes, "--out", out, "--dilate", 4)
    assert res.exit_code == 0, res.output
    suite = load_suite(out)
    assert [t.task_id for t in suite.tasks] == ["astronaut-hand0", "astronaut-hand1"]
    assert validate_suite(suite) == []
    for t in suite.tasks:
        assert t.kind == "inpaint" and t.reference == t.image and t.params["edit"] == "hand_regen"
        img = load_image(suite.resolve_path(t.image))
        m = mask_from_recipe(t.mask, img.shape[:2])
        x0, y0, x1, y1 = (int(v) for v in t.params["hand_box"])
        assert m[y0:y1, x0:x1].all() and m.mean() < 0.05           # covers its hand, not the photo
        assert "finger" in t.prompt and "fingers" in t.negative_prompt


def test_bad_box_rows_are_one_sentence_exit_2(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    shutil.copy(bundled_photo("astronaut.png"), imgs / "astronaut.png")
    for text, needle in (("image,x0,y0,x1,y1\nastronaut.png,a,0,10,10\n", "not numbers"),
                         ("image,x0,y0,x1,y1\nastronaut.png,50,50,40,60\n", "empty")):
        boxes = tmp_path / "hands.csv"
        boxes.write_text(text)
        res = _build("--images", imgs, "--boxes", boxes, "--out", tmp_path / "s.yaml")
        assert res.exit_code == 2 and needle in res.output, res.output
