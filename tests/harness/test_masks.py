"""Mask generators and the mask stage: tiny random-weight SAM / SAM 2 built in code and loaded from
save_pretrained folders; the stored mask, its cache, invert, empty/full errors, validation, the worker."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from harness.core.errors import EditbenchError
from harness.execution.mask_stage import prepare_mask
from harness.masks import MASK_GENERATORS, SamRecipe, mask_path, parse_recipe, with_stored_mask
from harness.masks import sam as sam_mod
from harness.masks.sam import choose, loaded
from tasks.loading import load_suite
from tasks.schema import Task
from tasks.validate import SuiteInvalid, check_suite
from tests.tiny_models import build_sam, build_sam2


@pytest.fixture(scope="module")
def sam_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("sam-weights")
    return {"sam-vit-b": build_sam(root / "sam-vit-b"), "sam2": build_sam2(root / "sam2")}


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from skimage import data

    path = tmp_path_factory.mktemp("photo") / "chelsea.png"
    Image.fromarray(data.chelsea()[::2, ::2]).save(path)   # 226 x 150
    return path


def sam_task(photo, weights, **recipe):
    mask = {"sam": {"box": [40, 20, 160, 130]}, "weights": str(weights), **recipe}
    return Task(task_id="cat", kind="inpaint", image=str(photo), mask=mask, prompt="a beach")


def test_registry_names_and_recipe_defaults():
    assert MASK_GENERATORS.names() == ["sam-vit-b", "sam-vit-h", "sam2"]
    r = parse_recipe({"sam": {"points": [[3, 4]], "labels": [1]}})
    assert r.model == "sam-vit-b" and r.multimask == "best" and not r.invert and r.sam.box is None
    with pytest.raises(EditbenchError, match="unknown field"):
        parse_recipe({"sam": {"box": [0, 0, 5, 5]}, "dilate": 4})   # one dilation: the task's mask_dilate


@pytest.mark.parametrize("name", MASK_GENERATORS.names())
def test_every_generator_resolves_to_its_class_without_heavy_imports(name):
    import subprocess
    import sys

    cls = MASK_GENERATORS.get(name)
    assert cls.name == name and cls.family in ("sam", "sam2")
    code = ("import sys; from harness.masks import MASK_GENERATORS; import harness.execution.mask_stage; "
            f"MASK_GENERATORS.get({name!r}); print([m for m in ('torch', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_choose_rules():
    masks = np.zeros((3, 4, 4), bool)
    masks[0, :1] = True       # 4 px
    masks[1, :3] = True       # 12 px
    masks[2, :2] = True       # 8 px
    scores = np.array([0.1, 0.2, 0.9])
    assert choose(masks, scores, "best").sum() == 8
    assert choose(masks, scores, "largest").sum() == 12
    assert choose(masks, scores, "smallest").sum() == 4


@pytest.mark.parametrize("name", ["sam-vit-b", "sam2"])
def test_tiny_generators_segment_at_image_size(sam_folders, photo, name):
    gen = loaded(MASK_GENERATORS.get(name)(weights=str(sam_folders[name])))
    image = np.asarray(Image.open(photo).convert("RGB"))
    for prompt in ({"box": (40, 20, 160, 130)}, {"points": [(100, 70), (5, 5)], "labels": [1, 0]},
                   {"box": (40, 20, 160, 130), "points": [(100, 70)], "labels": [1]}):
        m = gen.segment(image, **prompt)
        assert m.dtype == bool and m.shape == image.shape[:2]
    a = gen.segment(image, box=(40, 20, 160, 130), rule="largest")
    b = gen.segment(image, box=(40, 20, 160, 130), rule="smallest")
    assert a.sum() >= b.sum()


def test_stage_stores_once_and_every_pipeline_reads_the_same(sam_folders, photo, tmp_path, monkeypatch):
    task = sam_task(photo, sam_folders["sam-vit-b"], multimask="largest")
    t1, rec1 = prepare_mask(task, tmp_path)
    ms1 = rec1["latency_mask_ms"]
    png = mask_path(tmp_path, task)
    assert t1.mask == str(png) and png == tmp_path / "masks" / "sam-vit-b" / "cat.png"
    stored = np.asarray(Image.open(png)) > 127
    info = json.loads(png.with_suffix(".json").read_text())
    assert info["latency_mask_ms"] == ms1 > 0 and info["pixels"] == stored.sum()
    assert 0 < stored.sum() < stored.size
    # A second pipeline's actor: reads the stored mask and its measured latency, computes nothing.
    monkeypatch.setattr(sam_mod, "timed_segment", lambda *a, **k: pytest.fail("mask computed twice"))
    t2, rec2 = prepare_mask(task, tmp_path)
    assert (t2.mask, rec2) == (t1.mask, rec1) and rec1["generator"] == "sam-vit-b"
    assert rec1["weights"] == str(sam_folders["sam-vit-b"])
    assert with_stored_mask(task, tmp_path).mask == str(png)
    plain = task.model_copy(update={"mask": {"box": [0, 0, 5, 5]}})
    assert prepare_mask(plain, tmp_path) == (plain, None)


def test_invert_is_the_complement(sam_folders, photo, tmp_path):
    w = sam_folders["sam-vit-b"]
    prepare_mask(sam_task(photo, w), tmp_path / "a")
    prepare_mask(sam_task(photo, w, invert=True), tmp_path / "b")
    a = np.asarray(Image.open(tmp_path / "a/masks/sam-vit-b/cat.png")) > 127
    b = np.asarray(Image.open(tmp_path / "b/masks/sam-vit-b/cat.png")) > 127
    np.testing.assert_array_equal(a, ~b)


@pytest.mark.parametrize("fill, word", [(False, "empty"), (True, "whole image")])
def test_empty_or_full_mask_is_an_error_naming_the_task(sam_folders, photo, tmp_path, monkeypatch, fill, word):
    monkeypatch.setattr(sam_mod, "timed_segment",
                        lambda gen, image, **k: (np.full(image.shape[:2], fill), 1.5))
    task = sam_task(photo, sam_folders["sam-vit-b"])
    for _ in range(2):   # the second pipeline gets the same error from the stored record
        with pytest.raises(EditbenchError, match=f"task cat: the sam-vit-b mask .*{word}"):
            prepare_mask(task, tmp_path)
    assert not mask_path(tmp_path, task).exists()
    from harness.contract.spec import PipelineSpec
    from harness.execution.worker import Job, Worker

    w = Worker(PipelineSpec(name="cv2-telea"), [], out=str(tmp_path), run_id="r", suite="s")
    rec = w.run(Job(task, w.spec, 0))
    assert rec["status"] == "error" and "task cat: the sam-vit-b mask" in rec["error"] and word in rec["error"]


def test_a_random_segmenter_makes_the_row_random(photo, tmp_path, monkeypatch):
    from harness.contract.spec import PipelineSpec
    from harness.execution.worker import Job, Worker

    half = np.zeros((150, 226), bool)
    half[:, :113] = True
    monkeypatch.setattr(sam_mod, "timed_segment", lambda gen, image, **k: (half, 2.5))
    monkeypatch.setattr(sam_mod, "_LOADED", {})                       # this unloaded copy stays in this test
    monkeypatch.setattr(sam_mod.SamVitB, "load", lambda self: self)   # the architecture is not needed here
    task = sam_task(photo, "random")
    w = Worker(PipelineSpec(name="cv2-telea"), [], out=str(tmp_path), run_id="r", suite="s")
    rec = w.run(Job(task, w.spec, 0))
    assert rec["status"] == "ok" and rec["weights"] == "random" and rec["latency_mask_ms"] == 2.5


def write_suite(tmp_path, photo, masks):
    suite = {"name": "sam-suite", "version": "1", "data_root": str(photo.parent), "pipelines": ["cv2-telea"],
             "tasks": [{"task_id": f"t{i}", "kind": "inpaint", "image": photo.name, "mask": m}
                       for i, m in enumerate(masks)]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def test_validation_names_the_missing_weights_folder_once(photo, tmp_path, monkeypatch):
    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path / "weights"))
    path = write_suite(tmp_path, photo, [{"sam": {"box": [40, 20, 160, 130]}} for _ in range(3)])
    with pytest.raises(SuiteInvalid) as e:
        check_suite(load_suite(path))
    msg = str(e.value)
    assert msg.count(str(tmp_path / "weights" / "sam-vit-b")) == 1, msg
    assert "random" in msg


def test_validation_of_prompts_and_reference(sam_folders, photo, tmp_path):
    w = str(sam_folders["sam-vit-b"])
    path = write_suite(tmp_path, photo, [{"sam": {"box": [40, 20, 900, 130]}, "weights": w},
                                         {"sam": {"points": [[1, 1]]}, "weights": w},
                                         {"sam": {"box": [1, 1, 9, 9]}, "weights": w, "reference": "nope.png"},
                                         {"sam": {"box": [1, 1, 9, 9]}, "weights": "random", "model": "sam-vit-h"}])
    with pytest.raises(SuiteInvalid) as e:
        check_suite(load_suite(path))
    probs = {p.task_id: p.message for p in e.value.problems}
    assert "outside the 226x150 image" in probs["t0"]
    assert "labels" in probs["t1"]
    assert "nope.png" in probs["t2"] and "does not exist" in probs["t2"]
    assert "t3" not in probs      # random weights need no folder


def test_worker_row_carries_mask_latency_in_the_round_trip(sam_folders, photo, tmp_path):
    from harness.contract.spec import PipelineSpec
    from harness.execution.worker import Job, Worker
    from harness.pipelines.imaging import dilate_mask

    task = sam_task(photo, sam_folders["sam-vit-b"], invert=True).model_copy(update={"overrides": {"mask_dilate": 3}})
    workers = [Worker(PipelineSpec(name=n), ["subject"], out=str(tmp_path), run_id="r", suite="s")
               for n in ("cv2-telea", "cv2-ns")]
    recs = [w.run(Job(task, w.spec, 0)) for w in workers]
    info = json.loads((tmp_path / "masks/sam-vit-b/cat.json").read_text())
    for rec in recs:
        assert rec["status"] == "ok", rec["error"]
        assert rec["latency_mask_ms"] == info["latency_mask_ms"]
        assert rec["latency_ms"] > rec["latency_mask_ms"]
        out = np.asarray(Image.open(tmp_path / rec["output_path"]))
        src = np.asarray(Image.open(photo).convert("RGB"))
        stored = np.asarray(Image.open(tmp_path / "masks/sam-vit-b/cat.png")) > 127
        keep = ~dilate_mask(stored, 3)                        # the stored mask, grown once by mask_dilate
        np.testing.assert_array_equal(out[keep], src[keep])
        assert not np.array_equal(out[~keep & ~stored], src[~keep & ~stored])   # the 3-px ring was edited too
        assert rec["param.mask_dilate"] == 3
        assert rec["mask_generator"] == "sam-vit-b" and rec["weights"] == "real"
        # Scored against the stored mask: the subject (its complement, before dilation) as skimage measures it.
        from skimage.metrics import peak_signal_noise_ratio

        expect = peak_signal_noise_ratio(src[~stored], out[~stored], data_range=255)
        assert rec["subject.psnr"] == pytest.approx(min(expect, 100.0), rel=1e-9)


def test_recipe_model_is_frozen():
    r = SamRecipe(sam={"box": [0, 0, 4, 4]})
    with pytest.raises(Exception):  # noqa: B017 - any refusal of the frozen model will do
        r.invert = True


def test_cli_run_without_sam_weights_is_one_sentence_exit_2(photo, tmp_path):
    import os
    import subprocess
    import sys

    path = write_suite(tmp_path, photo, [{"sam": {"box": [40, 20, 160, 130]}, "invert": True} for _ in range(2)])
    env = {**os.environ, "EDITBENCH_WEIGHTS": str(tmp_path / "weights")}
    res = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--suite", str(path), "--out",
                          str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(tmp_path / "weights" / "sam-vit-b") in lines[0], res.stderr
    assert not (tmp_path / "run" / "results").exists()


def test_recipe_paths_resolve_against_the_suite(sam_folders, photo, tmp_path):
    import shutil

    from harness.execution.runner import resolve_task

    shutil.copytree(sam_folders["sam-vit-b"], tmp_path / "models" / "sam")
    ref = np.zeros((150, 226), np.uint8)
    ref[20:130, 40:160] = 255
    Image.fromarray(ref).save(photo.parent / "cat.ref.png")
    path = write_suite(tmp_path, photo, [{"sam": {"box": [40, 20, 160, 130]}, "weights": "models/sam",
                                          "reference": "cat.ref.png"}])
    suite = load_suite(path)
    check_suite(suite)                             # weights relative to the suite file's folder are found
    mask = resolve_task(suite, suite.tasks[0]).mask
    assert mask["weights"] == str(tmp_path / "models" / "sam")
    assert mask["reference"] == str(photo.parent / "cat.ref.png")
    escape = write_suite(tmp_path, photo, [{"sam": {"box": [40, 20, 160, 130]}, "weights": "random",
                                            "reference": "../../etc/passwd"}])
    with pytest.raises(SuiteInvalid, match="escapes the data root"):
        check_suite(load_suite(escape))
