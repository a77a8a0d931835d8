"""A SAM mask source end to end through the Ray runner: a bundled photo, a tiny random-weight SAM loaded
from its save_pretrained folder, a classical and a diffusers pipeline editing the one stored mask."""

from __future__ import annotations

import json

import numpy as np
import yaml
from PIL import Image

from harness.runner import run
from harness.spec import RunSpec
from reports.results import read_results
from tests.tiny_models import build_sam, build_sd_inpaint


def test_sam_mask_stage_through_the_runner(tmp_path):
    import skimage

    sam = build_sam(tmp_path / "w" / "sam-vit-b")
    sd = build_sd_inpaint(tmp_path / "w" / "sd-inpaint")
    recipe = {"sam": {"box": [100, 40, 330, 300]}, "invert": True, "weights": str(sam)}
    suite = {"name": "sam-bg", "version": "1", "data_root": skimage.data_dir, "seeds": [0],
             "tasks": [{"task_id": "chelsea", "kind": "inpaint", "image": "chelsea.png", "mask": recipe,
                        "prompt": "a cat on a sunny beach", "overrides": {"mask_dilate": 4}}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    pipelines = ["cv2-telea", {"name": "sd-inpaint", "weights": str(sd), "options": {"steps": 2}}]
    spec = RunSpec(suite=str(tmp_path / "suite.yaml"), pipelines=pipelines, scorers=["background", "latency"],
                   address="local")
    out = run(spec, out=tmp_path / "run", progress=False)

    df = read_results(out)
    assert len(df) == 2 and (df["status"] == "ok").all(), df["error"].tolist()
    info = json.loads((out / "masks/sam-vit-b/chelsea.json").read_text())
    assert (df["latency_mask_ms"] == info["latency_mask_ms"]).all()          # one measurement, every row
    stages = df["latency_ms"] - df["latency_mask_ms"]
    assert (stages > 0).all()
    mask = np.asarray(Image.open(out / "masks/sam-vit-b/chelsea.png")) > 127
    assert 0 < mask.sum() < mask.size
    # cv2-telea keeps every pixel outside the stored mask grown once by mask_dilate (4 px), not twice.
    from harness.pipelines.imaging import dilate_mask

    src = np.asarray(Image.open(f"{skimage.data_dir}/chelsea.png").convert("RGB"))
    img = np.asarray(Image.open(out / df[df["pipeline"] == "cv2-telea"]["output_path"].iloc[0]))
    keep = ~dilate_mask(mask, 4)
    np.testing.assert_array_equal(img[keep], src[keep])
    assert not np.array_equal(img[~keep], src[~keep])
    assert (df["param.mask_dilate"] == 4).all()
    assert df["background.psnr"].notna().all()
