"""Background replacement with a SAM mask source end to end through the Ray runner: the builder's suite on
scikit-image's bundled photos, a tiny random-weight SAM loaded from its save_pretrained folder, a
classical and a diffusers pipeline editing the one stored mask, scored for subject preservation."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from harness.contract.results import read_results
from harness.contract.spec import RunSpec
from harness.workflow import run
from tasks.builders import build_suite
from tasks.loading import load_suite
from tests.tiny_models import build_sam, build_sd_inpaint


def test_background_replace_with_sam_through_the_runner(tmp_path):
    sam = build_sam(tmp_path / "w" / "sam-vit-b")
    sd = build_sd_inpaint(tmp_path / "w" / "sd-inpaint")
    path = build_suite("background-replace", out=tmp_path / "bg.yaml", mask_weights=str(sam), n=2)
    suite = load_suite(path)
    pipelines = ["cv2-telea", {"name": "sd-inpaint", "weights": str(sd), "options": {"steps": 2}}]
    spec = RunSpec(suite=str(path), pipelines=pipelines, scorers=["subject", "background", "latency"],
                   address="local")
    out = run(spec, out=tmp_path / "run", progress=False)

    df = read_results(out)
    assert len(df) == 2 * 2 and (df["status"] == "ok").all(), df["error"].tolist()
    for t in suite.tasks:
        rows = df[df["task_id"] == t.task_id]
        info = json.loads((out / f"masks/sam-vit-b/{t.task_id}.json").read_text())
        assert (rows["latency_mask_ms"] == info["latency_mask_ms"]).all()      # one measurement, every row
        assert (rows["latency_ms"] > rows["latency_mask_ms"]).all()            # mask + edit
        mask = np.asarray(Image.open(out / f"masks/sam-vit-b/{t.task_id}.png")) > 127
        assert 0 < mask.sum() < mask.size and info["pixels"] == mask.sum()
        src = np.asarray(Image.open(suite.resolve_path(t.image)).convert("RGB"))
        cv = rows[rows["pipeline"] == "cv2-telea"].iloc[0]
        img = np.asarray(Image.open(out / cv["output_path"]))
        np.testing.assert_array_equal(img[~mask], src[~mask])                   # the stored mask is what was edited
        assert not np.array_equal(img[mask], src[mask])
        assert cv["subject.psnr"] == 100.0                                     # the subject (SAM object) kept
    assert df["subject.ssim"].notna().all() and df["background.psnr"].notna().all()
    meta = json.loads((out / "run.json").read_text())
    assert "latency_mask_ms" in meta["metrics"] and "subject.psnr" in meta["metrics"]
