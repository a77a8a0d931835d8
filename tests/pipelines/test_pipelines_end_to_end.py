"""Real images end to end through the Ray runner: scikit-image's astronaut, coffee and chelsea with
box masks, through the classical floors and a tiny random-weight SD-inpaint; PNG outputs and
Parquet rows."""

from __future__ import annotations

import numpy as np
import yaml
from PIL import Image

from harness.contract.results import read_results
from harness.contract.spec import RunSpec
from harness.workflow import run

MASKS = {"astronaut": [180, 60, 330, 200], "coffee": [200, 100, 360, 220], "chelsea": [120, 60, 260, 160]}


def test_real_images_through_the_runner(tmp_path, tiny_weights):
    import skimage

    suite = {
        "name": "skimage-boxes", "version": "1", "data_root": skimage.data_dir, "seeds": [0],
        "tasks": [{"task_id": n, "kind": "inpaint", "image": f"{n}.png", "mask": {"box": box},
                   "prompt": "a plain background", "params": {"mask_fraction": 0.1}} for n, box in MASKS.items()],
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    pipelines = ["cv2-telea", "cv2-ns", "patchmatch",
                 {"name": "sd-inpaint", "weights": str(tiny_weights["sd-inpaint"]), "options": {"steps": 2}}]
    # address="local": always a private Ray, never a cluster another process on this machine started
    # (ray.init() with no address joins the one named in /tmp/ray/ray_current_cluster).
    spec = RunSpec(suite=str(tmp_path / "suite.yaml"), pipelines=pipelines, scorers=[], address="local")
    out = run(spec, out=tmp_path / "run", progress=False)

    df = read_results(out)
    assert len(df) == 3 * 4
    assert (df["status"] == "ok").all(), df.loc[df["status"] != "ok", "error"].tolist()
    assert set(df["pipeline"]) == {"cv2-telea", "cv2-ns", "patchmatch", "sd-inpaint"}
    sd = df[df["pipeline"] == "sd-inpaint"]
    assert (sd["weights"] == "real").all()
    assert sd[["latency_encode_ms", "latency_denoise_ms", "latency_decode_ms"]].notna().all().all()
    assert df.groupby("pipeline")["warmup"].sum().eq(1).all()          # first call per actor
    for rec in df.itertuples():
        img = np.asarray(Image.open(out / rec.output_path))
        src = np.asarray(Image.open(f"{skimage.data_dir}/{rec.task_id}.png").convert("RGB"))
        assert img.shape == src.shape
        if rec.pipeline != "sd-inpaint":      # classical floors change nothing outside the box
            x0, y0, x1, y1 = MASKS[rec.task_id]
            outside = np.ones(src.shape[:2], bool)
            outside[y0:y1, x0:x1] = False
            np.testing.assert_array_equal(img[outside], src[outside])
            assert not np.array_equal(img, src)
