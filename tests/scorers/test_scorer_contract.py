"""One contract test over every registered scorer, plus availability in `list` and fail-fast runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scorers.base import SCORERS, Metric, scorer_names


def _sample(name, task_of, out_of, tmp_path):
    """A (task, output) pair the scorer applies to."""
    cls = SCORERS[name]
    if cls.kinds is not None and "toy" in cls.kinds:
        from harness.toy.task import toy_source
        from tasks.schema import Task

        task = Task(task_id="toy", kind="toy", meta={"mask_fraction": 0.4, "n_samples": 50})
        from harness.pipelines.base import Output

        return task, Output(array=toy_source(task.params).x0.numpy(), latency_ms=3.0)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    target = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    kp = np.column_stack([rng.uniform(10, 50, (18, 2)), np.ones(18)])
    if name in ("subject", "mask_iou"):   # a task as the mask stage hands it to scorers: stored mask + its recipe
        from tests.scorers.conftest import save_png

        mask = np.ones((64, 64), bool)
        mask[16:48, 16:48] = False
        ref = np.ones((64, 64), bool)
        ref[20:48, 16:48] = False
        recipe = {"sam": {"box": [16, 16, 48, 48]}, "invert": True,
                  "reference": save_png(tmp_path / "ref.png", ref.astype(np.uint8) * 255)}
        task = task_of(img, kind="inpaint", mask=mask, prompt="a photo", meta={"mask_recipe": recipe})
        return task, out_of(np.clip(img.astype(int) + 30, 0, 255).astype(np.uint8))
    task = task_of(img, kind="inpaint", mask={"box": [16, 16, 48, 48]}, prompt="a photo", target=target,
                   control={"keypoints": kp.tolist()}, meta={"hand_box": [16, 16, 48, 48]})
    output = out_of(np.clip(img.astype(int) + 30, 0, 255).astype(np.uint8))
    output.extras["cost_usd"] = 0.042        # as a hosted pipeline records its price (the cost scorer reads it)
    return task, output


@pytest.mark.parametrize("name", scorer_names())
def test_scorer_contract(name, loaded_scorers, task_of, out_of, tmp_path):
    cls = SCORERS[name]
    assert cls.name == name
    assert cls.metrics and all(isinstance(m, Metric) for m in cls.metrics.values())
    for m in cls.metrics.values():   # provenance flags (direction none) are never ranked
        assert (m.direction == "none") == (m.role == "provenance")
    assert all("." not in m for m in cls.metrics)
    assert set(cls.columns()) == {f"{name}.{m}" for m in cls.metrics}
    scorer = loaded_scorers(name)
    task, output = _sample(name, task_of, out_of, tmp_path)
    assert scorer.applies_to(task)
    for vals in (scorer.score(task, output), scorer.score_batch([task], [output])[0]):
        assert set(vals) == set(cls.metrics), f"{name} returned {sorted(vals)}"
        assert all(isinstance(v, float) for v in vals.values()), vals
        assert not all(math.isnan(v) for v in vals.values()), f"{name} computed nothing: {vals}"
        for m, v in vals.items():   # every value lies in the range run.json declares for it
            lo, hi = cls.metrics[m].range
            assert math.isnan(v) or ((lo is None or v >= lo) and (hi is None or v <= hi)), (m, v, lo, hi)


def test_list_scorers_reports_missing_weights_with_the_expected_path(tmp_path, monkeypatch):
    from harness.inventory import describe

    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path))
    lines = {line.split()[0]: line for line in describe("scorers").splitlines()}
    for name, folder in (("pose", "openpose"), ("clip", "open_clip"), ("lpips", "lpips")):
        assert "unavailable" in lines[name] and str(tmp_path / folder) in lines[name]
    for name in ("seam", "texture", "background", "fidelity"):
        assert "[available]" in lines[name]
    # without ArcFace weights identity computes with dlib's installed ResNet model, face pose with its 68 points
    assert "[available; backend dlib (dlib_face_recognition_resnet_model_v1.dat)]" in lines["identity"]
    assert "[available; backend dlib (shape_predictor_68_face_landmarks.dat)]" in lines["face_pose"]


def test_list_scorers_available_with_tiny_weights(weights_env):
    from harness.inventory import describe

    lines = {line.split()[0]: line for line in describe("scorers").splitlines()}
    for name in ("pose", "clip", "lpips"):
        assert "[available]" in lines[name], lines[name]
    assert "[available; backend arcface (w600k_r50.onnx)]" in lines["identity"]


def test_run_with_a_scorer_missing_weights_fails_before_any_work(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from harness.cli import app

    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path / "weights"))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", "--suite", "toy-5d", "--scorers", "toy,pose", "--out", str(out)])
    assert res.exit_code == 2
    err = res.stderr if hasattr(res, "stderr") else res.output
    assert str(tmp_path / "weights" / "openpose") in err
    assert len(err.strip().splitlines()) == 1
    assert not (out / "run.json").exists() and not (out / "results").exists()
