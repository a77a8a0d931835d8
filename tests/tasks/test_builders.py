"""Suite builders: face-regen on bundled photos, the other builders, determinism and hashes."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.contract.spec import RunSpec
from harness.core.imageio import load_image, mask_from_recipe
from harness.pipelines.base import PIPELINES, Output, Pipeline
from tasks.loading import load_suite
from tasks.validate import validate_suite
from tests.tasks.helpers import bundled_photo, write_png

# Faces of insightface's t1.jpg (1280x886), labelled by eye: (x0, y0, x1, y1) of each person's face.
# The profile at (270, 110, 410, 260) is turned away; the LBP cascade (frontal) is not expected to find it.
T1_FACES = {
    "left woman": (50, 250, 180, 385), "man in grey": (445, 270, 590, 420), "man in red": (735, 355, 845, 470),
    "standing man": (900, 95, 1005, 205), "right woman": (1110, 270, 1235, 400), "profile": (270, 110, 410, 260),
}


def register_fake_pipeline() -> str:
    """A test-only adapter accepting every image kind (the real ones come with their own issue)."""
    if "fake-image" not in PIPELINES:
        class FakeImage(Pipeline):
            name = "fake-image"
            kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})

            def execute(self, task, seed):
                return Output(image=load_image(task.image), latency_ms=0.0, weights="real")

        PIPELINES["fake-image"] = FakeImage
    return "fake-image"


def build(*args: str) -> None:
    res = CliRunner().invoke(app, ["suite", "build", *map(str, args)])
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def portrait_folder(tmp_path_factory) -> Path:
    """The bundled group photo, portrait and astronaut plus 16 resized/flipped/padded copies of the
    portrait: 23 detectable frontal faces in 19 images."""
    import cv2

    d = tmp_path_factory.mktemp("portraits")
    for n in ("t1.jpg", "Tom_Hanks_54745.png", "astronaut.png"):
        shutil.copy(bundled_photo(n), d / n)
    tom = load_image(bundled_photo("Tom_Hanks_54745.png"))
    for s in (112, 144, 176, 208):
        for flip in (0, 1):
            for pad in (0, 24):
                im = cv2.resize(tom, (s, s))[:, ::-1] if flip else cv2.resize(tom, (s, s))
                im = np.pad(im, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
                write_png(d / "variants" / f"tom_{s}_{flip}_{pad}.png", np.ascontiguousarray(im))
    return d


@pytest.fixture(scope="module")
def face_suite(portrait_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "faces.yaml"
    build("face-regen", "--images", portrait_folder, "--out", out, "-n", 20)
    return out


def test_face_regen_writes_20_tasks_that_a_run_accepts(face_suite):
    from harness.execution.runner import build_manifest

    suite = load_suite(face_suite)
    assert len(suite.tasks) == 20 and {t.kind for t in suite.tasks} == {"face_regen"}
    assert validate_suite(suite) == []
    # the suite's primary metric is identity.distance, so a run of it needs the identity scorer
    m = build_manifest(RunSpec(suite=str(face_suite), pipelines=register_fake_pipeline(), scorers="identity,latency"))
    assert len(m.jobs) == 20 and m.suite_hash == suite.content_hash()
    for t in suite.tasks:
        assert t.reference == t.image and t.control is None        # no pose weights given
        assert "person" in t.prompt and "pose" in t.prompt          # re-describes the whole subject


def test_face_regen_picks_round_robin(face_suite):
    ids = [t.task_id for t in load_suite(face_suite).tasks]
    # every one of the 19 images gives its largest face, then the group photo its second largest
    assert sum(i.endswith("-face0") for i in ids) == 19 and "t1-face1" in ids and len(set(ids)) == 20


@pytest.fixture(scope="module")
def detected(face_suite) -> dict[str, list[tuple]]:
    """Face boxes the builder's default detector (dlib-hog) finds in each image of the built suite."""
    from harness.face_detectors import detect

    suite = load_suite(face_suite)
    return {t.image: [tuple(round(v, 1) for v in f.box)
                      for f in detect(load_image(suite.resolve_path(t.image)), detector="dlib-hog")]
            for t in suite.tasks}


def test_face_regen_masks_cover_detected_faces(face_suite, detected):
    suite = load_suite(face_suite)
    for t in suite.tasks:
        img = load_image(suite.resolve_path(t.image))
        box = tuple(t.params["face_box"])
        assert box in detected[t.image]                     # the mask is made from a detected face ...
        m = mask_from_recipe(t.mask, img.shape[:2])
        x0, y0, x1, y1 = (int(v) for v in box)
        assert m[y0:y1, x0:x1].all()                        # ... and covers all of its box
        if t.image in ("t1.jpg", "astronaut.png"):
            assert m.mean() < 0.1                           # one face, not the whole photo


def test_faces_found_in_the_group_photo_are_real_faces(detected):
    """Precision on t1.jpg: every detected face lies on a labelled face, no face twice."""
    hit = []
    for x0, y0, x1, y1 in detected["t1.jpg"]:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        who = [k for k, (a, b, c, d) in T1_FACES.items() if a <= cx <= c and b <= cy <= d]
        assert who, f"false positive at {(x0, y0, x1, y1)}"
        hit.append(who[0])
    assert len(hit) == len(set(hit)) >= 5


def test_rebuild_is_byte_identical_and_a_changed_image_changes_the_hash(portrait_folder, tmp_path):
    from harness.execution.runner import build_manifest

    small = tmp_path / "imgs"
    small.mkdir()
    for n in ("tom_112_0_0.png", "tom_144_1_24.png"):
        shutil.copy(portrait_folder / "variants" / n, small / n)
    out = tmp_path / "suite" / "faces.yaml"
    build("face-regen", "--images", small, "--out", out, "--dilate", 4)
    first = out.read_bytes()
    build("face-regen", "--images", small, "--out", out, "--dilate", 4)
    assert out.read_bytes() == first
    assert b"time" not in first.lower() and len(load_suite(out).tasks) == 2

    spec = RunSpec(suite=str(out), pipelines=register_fake_pipeline(), scorers="identity,latency")
    h0 = build_manifest(spec).suite_hash
    img = load_image(small / "tom_144_1_24.png")
    img[0, 0] = 255 - img[0, 0]                                  # one pixel of one image
    write_png(small / "tom_144_1_24.png", img)
    assert build_manifest(spec).suite_hash != h0
    assert out.read_bytes() == first                             # the suite file itself did not change


def test_removal_from_masks_and_from_boxes(tmp_path):
    rng = np.random.default_rng(1)
    for n in ("a", "b"):
        write_png(tmp_path / "img" / f"{n}.png", rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    m = np.zeros((40, 50), np.uint8)
    m[5:15, 5:25] = 255
    write_png(tmp_path / "masks" / "a.png", m)
    write_png(tmp_path / "masks" / "b_mask.png", m)
    build("removal", "--images", tmp_path / "img", "--masks", tmp_path / "masks", "--out", tmp_path / "r.yaml")
    s = load_suite(tmp_path / "r.yaml")
    assert [t.mask for t in s.tasks] == ["masks/a.png", "masks/b_mask.png"] and s.data_root == "."
    assert s.tasks[0].params == {"edit": "removal", "mask_fraction": 0.1} and validate_suite(s) == []

    (tmp_path / "boxes.csv").write_text("image,x0,y0,x1,y1\na.png,0,0,10,10\na.png,20,20,30,40\n")
    build("removal", "--images", tmp_path / "img", "--boxes", tmp_path / "boxes.csv", "--out", tmp_path / "b.yaml")
    s = load_suite(tmp_path / "b.yaml")
    assert [(t.task_id, t.mask) for t in s.tasks] == [("a-box0", {"box": [0, 0, 10, 10]}),
                                                      ("a-box1", {"box": [20, 20, 30, 40]})]
    res = CliRunner().invoke(app, ["suite", "build", "removal", "--images", str(tmp_path / "img"),
                                   "--out", str(tmp_path / "x.yaml")])
    assert res.exit_code == 2 and "--masks" in res.output


def test_outpaint_sdedit_and_instruct(tmp_path):
    write_png(tmp_path / "img" / "w.png", np.zeros((40, 60, 3), np.uint8))
    write_png(tmp_path / "img" / "t.png", np.zeros((60, 40, 3), np.uint8))
    build("outpaint", "--images", tmp_path / "img", "--aspect", "16:9", "--out", tmp_path / "o.yaml")
    op = {t.task_id: t.params["outpaint"] for t in load_suite(tmp_path / "o.yaml").tasks}
    # 60x40 -> 71x40 (+11 wide); 40x60 -> 107x60 (+67 wide), odd pixel to the right
    assert op == {"t": {"left": 33, "right": 34, "top": 0, "bottom": 0},
                  "w": {"left": 5, "right": 6, "top": 0, "bottom": 0}}
    build("outpaint", "--images", tmp_path / "img", "--margins", "1,2,3,4", "--out", tmp_path / "m.yaml")
    assert load_suite(tmp_path / "m.yaml").tasks[0].params["outpaint"] == {"left": 1, "right": 2, "top": 3, "bottom": 4}

    build("sdedit-sweep", "--images", tmp_path / "img", "--out", tmp_path / "s.yaml")
    s = load_suite(tmp_path / "s.yaml")
    assert [t.params["strength"] for t in s.tasks[:6]] == [0.3, 0.4, 0.5, 0.6, 0.7, 0.9] and len(s.tasks) == 12

    with (tmp_path / "edits.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["image", "instruction"], ["w.png", "make it snow"], ["w.png", "add a hat, please"]])
    build("instruct", "--images", tmp_path / "img", "--csv", tmp_path / "edits.csv", "--out", tmp_path / "i.yaml")
    s = load_suite(tmp_path / "i.yaml")
    assert [(t.task_id, t.instruction) for t in s.tasks] == [("w-i0", "make it snow"), ("w-i1", "add a hat, please")]


def test_pitfall_sweeps_over_a_base_suite(tmp_path):
    write_png(tmp_path / "img" / "a.png", np.zeros((40, 60, 3), np.uint8))
    m = np.zeros((40, 60), np.uint8)
    m[10:30, 20:40] = 255
    write_png(tmp_path / "masks" / "a.png", m)
    base = tmp_path / "base.yaml"
    build("removal", "--images", tmp_path / "img", "--masks", tmp_path / "masks", "--out", base)

    build("dilation-sweep", "--from", base, "--out", tmp_path / "sweeps" / "d.yaml")
    s = load_suite(tmp_path / "sweeps" / "d.yaml")
    assert [(t.task_id, t.params["mask_dilate"]) for t in s.tasks] == [("a-dil0", 0), ("a-dil8", 8), ("a-dil16", 16)]
    assert validate_suite(s) == []

    build("guidance-mask-sweep", "--from", base, "--out", tmp_path / "sweeps" / "g.yaml", "--guidance", "2,8",
          "--mask-scales", "0.5,1")
    s = load_suite(tmp_path / "sweeps" / "g.yaml")
    got = {t.task_id: (t.params["guidance"], t.params["mask_fraction"]) for t in s.tasks}
    assert got == {"a-scale0.5-g2": (2.0, 0.0417), "a-scale0.5-g8": (8.0, 0.0417),
                   "a-scale1-g2": (2.0, 0.1667), "a-scale1-g8": (8.0, 0.1667)}
    assert validate_suite(s) == []

    build("prompt-scope-sweep", "--from", base, "--out", tmp_path / "p.yaml", "--object-prompt", "wooden floor")
    s = load_suite(tmp_path / "p.yaml")
    assert [(t.params["prompt_scope"], t.prompt) for t in s.tasks] == [
        ("whole", s.tasks[0].prompt), ("object", "wooden floor")]


def test_committed_smoke_suites_are_what_the_builder_writes(tmp_path):
    from tasks.builders.builtin import build_builtin
    from tasks.schema import SUITES_DIR

    for p in build_builtin(tmp_path):
        assert p.read_bytes() == (SUITES_DIR / p.name).read_bytes(), p.name
        assert validate_suite(load_suite(p)) == []


def test_face_regen_pose_control_through_harness_pose(portrait_folder, tmp_path, monkeypatch):
    """With --pose-weights the builder renders the source pose via harness.pose (faked here: the real
    module is built on another branch) and references it as each task's control image."""
    import sys
    import types

    calls = []

    class BodyPoseEstimator:
        def __init__(self, weights_dir):
            calls.append(("init", Path(weights_dir)))

        def __call__(self, image):
            calls.append(("call", image.shape))
            return ["person"]

    def render_pose(shape, people):
        out = np.zeros((*shape, 3), np.uint8)
        out[: shape[0] // 2] = 255 if people else 0
        return out

    fake = types.ModuleType("harness.pose")
    fake.BodyPoseEstimator, fake.render_pose = BodyPoseEstimator, render_pose
    monkeypatch.setitem(sys.modules, "harness.pose", fake)
    import tasks.builders.face_regen as face_regen  # imports harness.pose at its top: patch its names too

    monkeypatch.setattr(face_regen, "BodyPoseEstimator", BodyPoseEstimator)
    monkeypatch.setattr(face_regen, "render_pose", render_pose)
    small = tmp_path / "imgs"
    small.mkdir()
    shutil.copy(portrait_folder / "variants" / "tom_144_0_0.png", small / "a.png")
    out = tmp_path / "out" / "faces.yaml"
    build("face-regen", "--images", small, "--out", out, "--pose-weights", tmp_path / "openpose")
    s = load_suite(out)
    assert calls[0] == ("init", tmp_path / "openpose") and calls[1] == ("call", (144, 144, 3))
    ctrl = s.resolve_path(s.tasks[0].control)
    assert ctrl == (tmp_path / "out" / "faces.pose" / "a.png").resolve()
    assert s.tasks[0].control == "out/faces.pose/a.png"
    assert load_image(ctrl)[0, 0].tolist() == [255, 255, 255] and validate_suite(s) == []
