"""The image scorers inside harness.execution.worker.Worker: built with default options from $EDITBENCH_WEIGHTS,
loaded once in the worker, every column filled for an image row."""

from __future__ import annotations

import numpy as np

from harness.contract.spec import PipelineSpec
from harness.execution.worker import Job, Worker
from harness.pipelines.base import PIPELINES, Output, Pipeline


class FlatPatch(Pipeline):
    """Test-only adapter: pastes a flat grey patch into the mask (a hard seam by construction)."""

    name = "test-flat-patch"
    kinds = frozenset({"inpaint"})

    def execute(self, task, seed):
        from harness.core.imageio import load_image, load_mask

        img = load_image(task.image)
        out = img.copy()
        out[load_mask(task.mask, shape=img.shape[:2])] = 200
        return Output(image=out, latency_ms=1.0, weights="random")


def test_worker_fills_every_image_scorer_column(weights_env, task_of, monkeypatch, tmp_path):
    monkeypatch.setitem(PIPELINES, FlatPatch.name, FlatPatch)
    rng = np.random.default_rng(0)
    img = np.clip(120 + rng.normal(0, 10, (64, 64, 3)), 0, 255).astype(np.uint8)
    task = task_of(img, mask={"box": [16, 16, 48, 48]}, prompt="a grey square", target=img)
    names = ["pose", "identity", "seam", "texture", "background", "clip", "fidelity", "lpips", "latency"]
    worker = Worker(PipelineSpec(name=FlatPatch.name), names, out=str(tmp_path / "out"), run_id="r", suite="test")
    assert worker.ping() == "ok"
    rec = worker.run(Job(task=task, pipeline=PipelineSpec(name=FlatPatch.name), seed=0))
    assert rec["status"] == "ok" and rec["score_error"] is None, rec
    assert rec["background.psnr"] == 100.0 and rec["background.max_abs"] == 0.0   # the PSNR ceiling
    assert rec["seam.score"] > 0.5
    assert rec["texture.score"] > 1.0 and rec["lpips.distance"] > 0.0   # a flat patch in noise
    assert rec["fidelity.psnr"] < 30 and rec["fidelity.ssim"] < 1.0
    assert 0.0 <= rec["clip.score"] <= 100.0 and 0.0 <= rec["clip.score_masked"] <= 100.0
    assert rec["identity.detector_scrfd"] == 0.0 and rec["identity.detected"] in (0.0, 1.0)
    assert rec["pose.detected"] in (0.0, 1.0)
    assert rec["latency.total_ms"] == 1.0
