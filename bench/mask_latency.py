"""Mask latency vs edit latency, per stage: the SAM mask stage inside the edit's round trip.

For each mask generator (random weights: the published architecture at its processor's 1024-px input)
and each edit pipeline, one process drives the harness's own worker (``harness.execution.worker.Worker``, no Ray)
on a background-replacement task of a bundled photo: the mask stage (preprocess + SAM + postprocess,
``latency_mask_ms``), then the edit (its ``latency_<stage>_ms``), and the row's ``latency_ms`` = mask +
edit. Every repeat uses a fresh run directory, so the mask is computed each time (a run computes it
once per task and generator); the first repeat (model load, warm-up) is discarded; medians are printed.

    python bench/mask_latency.py                                   # CPU: sam-vit-b, sam2 x cv2-telea
    python bench/mask_latency.py --generators sam-vit-b,sam-vit-h,sam2 --edits cv2-telea,sd-inpaint --steps 2

``sd-inpaint`` runs with random weights (SD-1.5-inpainting architecture at 512 px). Prints figures;
asserts nothing about time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bench(generators: list[str], edits: list[str], *, repeats: int, steps: int, image: str) -> list[dict]:
    import skimage

    from harness.contract.spec import PipelineSpec
    from harness.execution.worker import Job, Worker
    from tasks.builders.segment import BUNDLED_SUBJECTS
    from tasks.schema import Task

    box, subject = BUNDLED_SUBJECTS[image]
    rows = []
    for gen in generators:
        task = Task(task_id="bench", kind="inpaint", image=str(Path(skimage.data_dir) / image),
                    mask={"sam": {"box": list(box)}, "invert": True, "model": gen, "weights": "random"},
                    prompt=f"a photo of {subject} on a sunny beach")
        for edit in edits:
            spec = PipelineSpec(name=edit, weights="random" if edit != "cv2-telea" else None,
                                options={"steps": steps} if edit != "cv2-telea" else {})
            w = Worker(spec, [], out=tempfile.mkdtemp(prefix="editbench-mask-bench-"), run_id="bench", suite="bench")
            recs = []
            for _ in range(repeats + 1):
                w.out = Path(tempfile.mkdtemp(prefix="editbench-mask-bench-"))   # no stored mask: computed again
                rec = w.run(Job(task, spec, 0))
                if rec["status"] != "ok":
                    raise SystemExit(f"{gen} x {edit}: {rec['error']}")
                recs.append(rec)
            recs = recs[1:]
            stages = sorted({k for r in recs for k in r if k.startswith("latency_") and k.endswith("_ms")
                             and k not in ("latency_ms", "latency_mask_ms") and r[k] == r[k]})
            med = {k: statistics.median(r[k] for r in recs) for k in ["latency_mask_ms", *stages, "latency_ms"]}
            rows.append({"generator": gen, "edit": edit, **med})
            names = {k: (k[len("latency_"):-len("_ms")] if k != "latency_ms" else "round trip") for k in med}
            print(f"{gen:10s} {edit:11s} " + "  ".join(f"{names[k]}={v:.1f}" for k, v in med.items()), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generators", default="sam-vit-b,sam2")
    ap.add_argument("--edits", default="cv2-telea")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2, help="diffusion steps of diffusers edits")
    ap.add_argument("--image", default="astronaut.png", help="a bundled photo of tasks/builders/segment.py")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    a = ap.parse_args()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)

    print(f"device: {'cuda ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'}, "
          f"torch threads {torch.get_num_threads()}, image {a.image}, medians of {a.repeats} after 1 warm-up (ms)")
    bench(a.generators.split(","), a.edits.split(","), repeats=a.repeats, steps=a.steps, image=a.image)


if __name__ == "__main__":
    main()
