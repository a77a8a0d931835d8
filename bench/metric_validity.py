"""Do the image metrics prefer the fill a careful eye prefers? Reconstruction and removal tasks on real photos.

    python bench/metric_validity.py [--images DIR] [--crops DIR] [--labels CSV] [--lpips-weights DIR]

Tasks:
- reconstruction: ``--holes`` (default 2) square holes per image over its most textured content
  (``tasks.builders.reconstruction.textured_holes``, side 0.25 x the short side); the pipelines see
  the image with the hole painted grey; the original is the ground truth;
- removal (default images only): the four boxed objects of the built-in ``smoke-removal`` suite.

Default images: scikit-image's colour photos astronaut, chelsea, coffee, rocket and
immunohistochemistry. Pipelines: ``cv2-telea``, ``cv2-ns`` and ``patchmatch``, called directly (no
Ray), plus on reconstruction tasks a negative control ``copy-elsewhere``: the hole filled with a
square of the same size copied from next to it (shifted by one side in one of 8 directions, not
overlapping the hole), the one whose colour mean and spread best match the 16-px ring around the
hole: a plausible texture, but not the truth. It must lose to PatchMatch on the ground-truth metrics.

Metrics: ``seam.score``, ``texture.score``, ``fidelity.psnr``/``ssim`` and ``lpips.distance``
(reconstruction only; lpips when ``--lpips-weights`` or $EDITBENCH_WEIGHTS/lpips holds the AlexNet
trunk). Prints, per task, which of the three pipelines each metric prefers, then agreement with the
eye labels of ``--labels`` (default bench/metric_validity_labels.csv: ``task_id,eye_best,eye_order,
note``, written by looking at the ``--crops`` strips before any score was read; ``eye_best`` empty =
no clear preference) and whether each ground-truth metric ranks PatchMatch above the negative control.
``--crops DIR`` writes one PNG strip per task (input with hole, telea, ns, patchmatch[, copy-elsewhere],
original) and, with ``--no-scores``, stops there so the labels can be made blind to the scores.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")
PIPELINES = ("cv2-telea", "cv2-ns", "patchmatch")
CONTROL = "copy-elsewhere"
LABELS = Path(__file__).with_name("metric_validity_labels.csv")
HOLE_SIZE = 0.25


@dataclass
class BenchTask:
    task_id: str
    kind: str                    # "reconstruction" | "removal"
    image: np.ndarray            # what the pipelines see (hole painted grey for reconstruction)
    mask: np.ndarray
    target: np.ndarray | None    # ground truth (reconstruction)
    control_box: list[int] | None = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict)


def _photos(images: Path | None) -> list[tuple[str, np.ndarray]]:
    from harness.core.imageio import load_image

    if images is None:
        from skimage import data

        return [(n, getattr(data, n)()[..., :3]) for n in DEFAULT_PHOTOS]
    from tasks.builders.common import list_images, stem_id

    folder = images.resolve()
    return [(stem_id(p, folder), load_image(p)) for p in list_images(folder)]


def _box_mask(shape, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def control_box(img: np.ndarray, box: list[int]) -> list[int] | None:
    """The neighbouring square (one side away, 8 directions, inside the image) whose RGB mean and std
    are closest to those of the 16-px ring around ``box``; None when no neighbour fits."""
    from scorers.texture import ring_of

    x0, y0, x1, y1 = box
    side = x1 - x0
    H, W = img.shape[:2]
    ring = img[ring_of(_box_mask((H, W), box), 16)].astype(float)
    want = np.concatenate([ring.mean(0), ring.std(0)])
    best, best_d = None, math.inf
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            cx, cy = x0 + dx * side, y0 + dy * side
            if (dx, dy) == (0, 0) or cx < 0 or cy < 0 or cx + side > W or cy + side > H:
                continue
            patch = img[cy:cy + side, cx:cx + side].reshape(-1, 3).astype(float)
            d = float(np.linalg.norm(np.concatenate([patch.mean(0), patch.std(0)]) - want))
            if d < best_d:
                best, best_d = [cx, cy, cx + side, cy + side], d
    return best


def build_tasks(images: Path | None, holes: int) -> list[BenchTask]:
    from tasks.builders.reconstruction import HOLE_GREY, textured_holes

    tasks = []
    photos = _photos(images)
    for name, img in photos:
        for k, box in enumerate(textured_holes(img, holes=holes, size=HOLE_SIZE)):
            mask = _box_mask(img.shape[:2], box)
            holed = img.copy()
            holed[mask] = HOLE_GREY
            tasks.append(BenchTask(f"{name}-hole{k}", "reconstruction", holed, mask, img,
                                   control_box=control_box(img, box)))
    if images is None:
        from tasks.loading import load_suite

        suite = load_suite("smoke-removal")
        for t in suite.tasks:
            from harness.core.imageio import load_image

            img = load_image(suite.resolve_path(t.image))
            tasks.append(BenchTask(t.task_id, "removal", img, _box_mask(img.shape[:2], t.mask["box"]), None))
    return tasks


def run_pipelines(task: BenchTask) -> None:
    from harness.pipelines.opencv import cv2_inpaint
    from harness.pipelines.patchmatch import patchmatch_inpaint

    task.outputs["cv2-telea"] = cv2_inpaint(task.image, task.mask, radius=3.0, method="telea")
    task.outputs["cv2-ns"] = cv2_inpaint(task.image, task.mask, radius=3.0, method="ns")
    task.outputs["patchmatch"] = patchmatch_inpaint(task.image, task.mask, patch_size=3, seed=0)
    if task.kind == "reconstruction" and task.control_box is not None:
        x0, y0, x1, y1 = task.control_box
        out = task.image.copy()
        out[task.mask] = task.target[y0:y1, x0:x1].reshape(-1, 3)
        task.outputs[CONTROL] = out


def save_crops(task: BenchTask, folder: Path) -> Path:
    from PIL import Image

    from scorers.regions import mask_bbox

    x0, y0, x1, y1 = mask_bbox(task.mask)
    pad = max(16, (x1 - x0) // 2)
    H, W = task.mask.shape
    rows, cols = slice(max(0, y0 - pad), min(H, y1 + pad)), slice(max(0, x0 - pad), min(W, x1 + pad))
    panels = [task.image] + [task.outputs[p] for p in (*PIPELINES, CONTROL) if p in task.outputs]
    panels.append(task.target if task.target is not None else task.image)
    gap = np.full((rows.stop - rows.start, 4, 3), 255, np.uint8)
    strip = np.concatenate([x for p in panels for x in (p[rows, cols], gap)][:-1], axis=1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task.task_id}.png"
    Image.fromarray(strip).save(path)
    return path


def _lpips_model(weights: Path | None):
    from harness.core.weights import weights_root
    from scorers.perceptual import BACKBONE_FILE, build_lpips

    folder = weights or weights_root() / "lpips"
    if not (folder / BACKBONE_FILE).is_file():
        return None
    return build_lpips(folder)


def score(task: BenchTask, lpips_model) -> dict[str, dict[str, float]]:
    """{pipeline: {metric: value}} for every output of ``task``."""
    from scorers.background import region_errors, region_ssim
    from scorers.regions import auto_px
    from scorers.seam import seam_score
    from scorers.texture import texture_terms

    w = auto_px(task.mask.shape)
    res = {}
    for name, out in task.outputs.items():
        vals = {"seam.score": seam_score(out, task.mask, band_px=w),
                "texture.score": texture_terms(out, task.mask, scale_px=w)["score"]}
        if task.target is not None:
            vals["fidelity.psnr"] = region_errors(out, task.target, task.mask)["psnr"]
            vals["fidelity.ssim"] = region_ssim(out, task.target, task.mask)
            if lpips_model is not None:
                vals["lpips.distance"] = _lpips(lpips_model, out, task.target, task.mask)
        res[name] = vals
    return res


def _lpips(model, out, target, mask) -> float:
    import torch

    from scorers.perceptual import lpips_crop

    rows, cols = lpips_crop(mask, margin_px=16)

    def t(img):
        return torch.from_numpy(np.ascontiguousarray(img[rows, cols])).permute(2, 0, 1)[None].float() / 127.5 - 1

    with torch.no_grad():
        return float(model(t(out), t(target))[0, 0].numpy()[mask[rows, cols]].mean())


DIRECTION = {"seam.score": "lower", "texture.score": "lower", "fidelity.psnr": "higher", "fidelity.ssim": "higher",
             "lpips.distance": "lower"}
GROUND_TRUTH = ("fidelity.psnr", "fidelity.ssim", "lpips.distance")


def preferred(scores: dict[str, dict[str, float]], metric: str, among=PIPELINES) -> str | None:
    vals = {p: scores[p][metric] for p in among if p in scores and metric in scores[p]
            and math.isfinite(scores[p][metric])}
    if not vals:
        return None
    pick = min if DIRECTION[metric] == "lower" else max
    return pick(vals, key=vals.get)


def read_labels(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {r["task_id"]: r for r in csv.DictReader(f)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=Path, default=None, help="folder of photos (default: scikit-image's)")
    ap.add_argument("--holes", type=int, default=2, help="reconstruction holes per image")
    ap.add_argument("--crops", type=Path, default=None, help="write a PNG strip per task here")
    ap.add_argument("--no-scores", action="store_true", help="with --crops: only write the strips")
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--lpips-weights", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.images is not None and not args.images.is_dir():
        print(f"--images {args.images} is not a folder.", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    from harness.core.errors import EditbenchError

    try:
        tasks = build_tasks(args.images, args.holes)
    except EditbenchError as e:
        print(str(e), file=sys.stderr)
        return 2
    for t in tasks:
        run_pipelines(t)
        if args.crops:
            save_crops(t, args.crops)
    if args.no_scores:
        print(f"wrote {len(tasks)} strips to {args.crops}")
        return 0
    model = _lpips_model(args.lpips_weights)
    labels = read_labels(args.labels)
    metrics = ["seam.score", "texture.score", *GROUND_TRUTH]
    agree = {m: [0, 0] for m in metrics}
    control = {m: [0, 0] for m in GROUND_TRUTH + ("texture.score",)}
    print("task | eye | " + " | ".join(metrics))
    for t in tasks:
        s = score(t, model)
        eye = labels.get(t.task_id, {}).get("eye_best", "").strip()
        eye_set = set(eye.split("|")) if eye else set()
        prefs = [preferred(s, m) for m in metrics]
        print(f"{t.task_id} ({t.kind}) | {eye or '-'} | " + " | ".join(p or "n/a" for p in prefs))
        for m, p in zip(metrics, prefs):
            if p is not None and eye:
                agree[m][0] += p in eye_set
                agree[m][1] += 1
        if CONTROL in s:
            for m in control:
                if m in s["patchmatch"]:
                    control[m][0] += preferred(s, m, among=("patchmatch", CONTROL)) == "patchmatch"
                    control[m][1] += 1
        for p, vals in s.items():
            print("    " + p.ljust(15) + "  ".join(f"{m} {v:.3f}" for m, v in vals.items()))
    print("\nagreement with the eye's best pipeline (tasks with a clear preference):")
    for m, (a, n) in agree.items():
        print(f"  {m}: {a}/{n}" if n else f"  {m}: n/a")
    print("negative control (copy-elsewhere) ranked below patchmatch, reconstruction tasks:")
    for m, (a, n) in control.items():
        print(f"  {m}: {a}/{n}" if n else f"  {m}: n/a")
    if model is None:
        print("lpips: no AlexNet trunk at --lpips-weights or $EDITBENCH_WEIGHTS/lpips; not scored.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
