"""Harness overhead per diffusers adapter: adapter.run() vs the bare diffusers call, same components,
same inputs, in one process, interleaved.

How "same" is ensured: the adapter is run once with its pipeline object wrapped by a recorder that
captures the exact keyword arguments the adapter passes (PIL image/mask at working size, prompt,
steps, guidance, ...). The bare call is then ``pipe(**those kwargs)`` on the very same pipeline
object with a fresh generator of the same seed. Both are timed with ``torch.cuda.synchronize`` on GPU.
Each repeat runs harness then bare; the first (warm-up) pair is discarded; medians are printed.

    python bench/pipelines.py                      # tiny random-weight models, CPU, 2 steps, 64 px
    python bench/pipelines.py --full-size          # random SD-1.5-inpaint 512^2, SDXL-inpaint 1024^2, 30 steps (GPU)

It prints figures; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TINY = ["sd-inpaint", "sdxl-inpaint", "sd-inpaint-openpose", "sdedit", "instruct-pix2pix", "repaint", "flux-fill",
        "flux-kontext"]
KIND = {"sdedit": "sdedit", "instruct-pix2pix": "instruct", "flux-kontext": "instruct"}


class Recorder:
    """Stands in for a diffusers pipeline object: records the call's kwargs, delegates everything."""

    def __init__(self, pipe):
        self.__dict__["_pipe"], self.__dict__["kwargs"] = pipe, None

    def __call__(self, **kwargs):
        self.__dict__["kwargs"] = dict(kwargs)
        return self._pipe(**kwargs)

    def __getattr__(self, name):
        return getattr(self._pipe, name)


def make_inputs(folder: Path, size: int):
    import numpy as np
    from PIL import Image
    from skimage import data

    img = np.asarray(Image.fromarray(data.astronaut()).resize((size, size), Image.BICUBIC))
    path = folder / f"astronaut-{size}.png"
    Image.fromarray(img).save(path)
    return path, [size // 4, size // 5, 3 * size // 4, 3 * size // 5]


def bench_one(spec, task, *, repeats: int, seed: int = 0) -> dict:
    from harness.pipelines.base import build_pipeline

    adapter = build_pipeline(spec)
    adapter.check()
    adapter.load()
    pipe = adapter.pipe
    adapter.pipe = rec = Recorder(pipe)
    adapter.run(task, seed)                  # warm-up, and records the kwargs
    adapter.pipe = pipe
    kwargs = rec.kwargs

    def bare() -> float:
        kw = dict(kwargs, generator=adapter.generator(seed))
        adapter.sync()
        t0 = time.perf_counter()
        pipe(**kw)
        adapter.sync()
        return (time.perf_counter() - t0) * 1e3

    bare()                                   # warm-up
    h_total, h_call, b_total, stages = [], [], [], {}
    for _ in range(repeats):
        out = adapter.run(task, seed)
        h_total.append(out.latency_ms)
        h_call.append(sum(out.latencies_ms.get(s, 0.0) for s in ("encode", "denoise", "decode")))
        for k, v in out.latencies_ms.items():
            stages.setdefault(k, []).append(v)
        b_total.append(bare())
    med = statistics.median
    return {"stages": {k: med(v) for k, v in stages.items()}, "harness": med(h_total), "harness_call": med(h_call),
            "bare": med(b_total), "harness_min": min(h_total), "bare_min": min(b_total),
            "device": adapter.device, "dtype": str(adapter.torch_dtype).replace("torch.", "")}


def bench_classical(name: str, task, *, repeats: int, seed: int = 0) -> dict:
    """A classical floor vs its library call on the already-loaded image and mask."""
    from harness.contract.spec import PipelineSpec
    from harness.core.imageio import load_image, load_mask
    from harness.pipelines.base import build_pipeline
    from harness.pipelines.opencv import cv2_inpaint
    from harness.pipelines.patchmatch import patchmatch_inpaint

    adapter = build_pipeline(PipelineSpec(name=name))
    image = load_image(task.image)
    mask = load_mask(task.mask, shape=image.shape[:2])
    if name == "patchmatch":
        def lib():
            return patchmatch_inpaint(image, mask, patch_size=adapter.options.patch_size, seed=seed)
    else:
        def lib():
            return cv2_inpaint(image, mask, radius=adapter.options.radius, method=adapter.method)

    def bare() -> float:
        t0 = time.perf_counter()
        lib()
        return (time.perf_counter() - t0) * 1e3

    adapter.run(task, seed)
    bare()
    h_total, b_total, stages = [], [], {}
    for _ in range(repeats):
        out = adapter.run(task, seed)
        h_total.append(out.latency_ms)
        for k, v in out.latencies_ms.items():
            stages.setdefault(k, []).append(v)
        b_total.append(bare())
    med = statistics.median
    return {"stages": {k: med(v) for k, v in stages.items()}, "harness": med(h_total),
            "harness_call": med(stages["inpaint"]), "bare": med(b_total), "harness_min": min(h_total),
            "bare_min": min(b_total), "device": "cpu", "dtype": "uint8"}


def print_row(name: str, size: int, r: dict) -> None:
    """One table row; classical floors show their single ``inpaint`` stage in the denoise column."""
    s = r["stages"]
    print(f"{name:22s} {r['device'] + '/' + r['dtype']:16s} {size:5d} {s.get('prepare', 0):8.1f} "
          f"{s.get('encode', 0):8.1f} {s.get('denoise', s.get('inpaint', 0)):9.1f} {s.get('decode', 0):8.1f} "
          f"{s.get('finish', 0):7.1f} {r['harness']:9.1f} {r['bare']:9.1f} {r['harness'] / r['bare']:6.3f} "
          f"{r['harness_call'] / r['bare']:9.3f} {r['harness_min'] / r['bare_min']:9.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full-size", action="store_true", help="random-weight SD-1.5-inpaint 512 and SDXL-inpaint 1024")
    ap.add_argument("--pipelines", default=None, help="comma-separated subset")
    ap.add_argument("--steps", type=int, default=None, help="default: 2 (tiny) / 30 (full size)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--classical-size", type=int, default=512, help="image size for cv2-*/patchmatch (0: skip)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = ap.parse_args()

    import torch

    from harness.contract.spec import PipelineSpec
    from tasks.schema import Task

    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="editbench-bench-"))
    runs = []
    if args.full_size:
        steps = args.steps or 30
        for name, res in [("sd-inpaint", 512), ("sdxl-inpaint", 1024)]:
            runs.append((PipelineSpec(name=name, weights="random",
                                      options={"steps": steps, "resolution": res, "device": args.device}), res))
    else:
        from tests.tiny_models import BUILDERS

        steps = args.steps or 2
        torch.manual_seed(0)
        for name in TINY:
            folder = BUILDERS[name](tmp / name)
            runs.append((PipelineSpec(name=name, weights=str(folder),
                                      options={"steps": steps, "resolution": 64, "device": args.device}), 64))
    if args.pipelines:
        keep = set(args.pipelines.split(","))
        runs = [r for r in runs if r[0].name in keep]

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, steps {steps}, repeats {args.repeats} "
          f"(stage columns and ratio: medians; min-ratio: min/min; warm-up excluded)")
    print(f"{'pipeline':22s} {'dev/dtype':16s} {'px':>5s} {'prepare':>8s} {'encode':>8s} {'denoise':>9s} "
          f"{'decode':>8s} {'finish':>7s} {'harness':>9s} {'bare':>9s} {'ratio':>6s} {'call/bare':>9s} "
          f"{'min-ratio':>9s}")
    for spec, size in runs:
        image, box = make_inputs(tmp, size)
        kind = KIND.get(spec.name, "inpaint")
        task = Task(task_id="bench", kind=kind, image=str(image), mask={"box": box}, prompt="an astronaut in a garden",
                    instruction="make it a watercolour", control=str(image))
        print_row(spec.name, size, bench_one(spec, task, repeats=args.repeats))
    if not args.full_size and args.classical_size and not args.pipelines:
        image, box = make_inputs(tmp, args.classical_size)
        task = Task(task_id="bench", kind="inpaint", image=str(image), mask={"box": box})
        for name in ("cv2-telea", "cv2-ns", "patchmatch"):
            print_row(name, args.classical_size, bench_classical(name, task, repeats=args.repeats))


if __name__ == "__main__":
    main()
