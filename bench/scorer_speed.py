"""Per-call cost of the weight-free scorers and of the OpenPose forward pass, on synthetic images.

    python bench/scorer_speed.py [--size 512] [--repeats 5]

Prints the median ms per ``score`` call. The pose figure uses randomly initialised OpenPose body
weights (the real architecture, so the network forward is representative; with random weights no
person is found, so limb association costs nothing). Identity and CLIP need real weights to be
representative and are left out. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from PIL import Image

    from harness.pipelines.base import Output
    from scorers.base import get_scorer_class
    from tasks.schema import Task

    s = args.size
    rng = np.random.default_rng(0)
    img = np.clip(120 + rng.normal(0, 25, (s, s, 3)), 0, 255).astype(np.uint8)
    out = img.copy()
    out[s // 4: 3 * s // 4, s // 4: 3 * s // 4] = 200
    with tempfile.TemporaryDirectory() as d:
        Image.fromarray(img).save(Path(d) / "img.png")
        task = Task(task_id="b", kind="inpaint", image=str(Path(d) / "img.png"), target=str(Path(d) / "img.png"),
                    mask={"box": [s // 4, s // 4, 3 * s // 4, 3 * s // 4]}, prompt="x")
        output = Output(image=out, latency_ms=1.0)
        scorers = {n: get_scorer_class(n)() for n in ("seam", "background", "fidelity")}

        import torch
        from controlnet_aux.open_pose.model import bodypose_model

        torch.manual_seed(0)
        (Path(d) / "openpose").mkdir()
        sd = {k.split(".", 1)[1]: v for k, v in bodypose_model().state_dict().items()}
        torch.save(sd, Path(d) / "openpose" / "body_pose_model.pth")
        pose = get_scorer_class("pose")(weights=str(Path(d) / "openpose"))
        pose.load()
        scorers["pose"] = pose

        print(f"image {s}x{s}, torch threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}")
        for name, sc in scorers.items():
            sc.score(task, output)  # warm-up
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                sc.score(task, output)
                times.append((time.perf_counter() - t0) * 1e3)
            print(f"{name:12s} {statistics.median(times):9.1f} ms/call (median of {args.repeats})")


if __name__ == "__main__":
    main()
