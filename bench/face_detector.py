"""Face detectors on the photos bundled in installed packages, against hand-labelled boxes.

    python bench/face_detector.py [CROPS_DIR]

1. Precision and recall of each detector of :mod:`harness.face_detectors` (dlib-hog, dlib-mmod,
   lbp-cascade; scrfd when $EDITBENCH_WEIGHTS/insightface holds det_*.onnx) against the boxes of
   bench/face_boxes.csv (labelled by eye before any detector was scored), one-to-one matching at
   IoU >= 0.5 and >= 0.3, with the seconds each detector took.
2. The LBP cascade with and without its verification: each detection's box per image, and one PNG per
   setting with every detected crop side by side (96x96 each, in print order) so that precision can be
   judged by eye.
It prints counts, it does not assert anything.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.core.imageio import load_image  # noqa: E402
from harness.face_detectors import detect, match_counts  # noqa: E402
from harness.faces import detect_lbp, find_scrfd  # noqa: E402
from tasks.schema import resolve_data_root  # noqa: E402


def bundled() -> list[Path]:
    ins = resolve_data_root("pkg:insightface/data/images", Path.cwd())
    return sorted(ins.glob("*.*")) + [resolve_data_root("pkg:skimage/data", Path.cwd()) / "astronaut.png"]


LABELS = Path(__file__).resolve().parent / "face_boxes.csv"


def labelled() -> dict[Path, list[tuple[float, ...]]]:
    """Image path -> hand-labelled face boxes (bench/face_boxes.csv)."""
    import csv

    with open(LABELS, newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    out: dict[Path, list] = {}
    for r in rows:
        root, _, name = r["image"].rpartition("/")
        out.setdefault(resolve_data_root(root, Path.cwd()) / name, []).append(
            tuple(float(r[k]) for k in ("x0", "y0", "x1", "y1")))
    return out


def precision_recall() -> None:
    from harness.core.weights import resolve_weights

    try:
        folder = resolve_weights("insightface")
    except Exception:  # noqa: BLE001 - no insightface folder: SCRFD is not measured
        folder = None
    detectors = ["dlib-hog", "dlib-mmod", "lbp-cascade"] + (["scrfd"] if find_scrfd(folder) else [])
    truth = labelled()
    print(f"{sum(len(v) for v in truth.values())} labelled faces in {len(truth)} images ({LABELS.name})")
    for det in detectors:
        counts = {0.5: [0, 0, 0], 0.3: [0, 0, 0]}
        t0 = time.perf_counter()
        found = {p: [f.box for f in detect(load_image(p), detector=det, weights_dir=folder)] for p in truth}
        secs = time.perf_counter() - t0
        for thr, c in counts.items():
            for p, boxes in truth.items():
                for i, v in enumerate(match_counts(found[p], boxes, iou=thr)):
                    c[i] += v
        line = "  ".join(f"IoU>={thr}: P {tp / max(tp + fp, 1):.2f} R {tp / max(tp + fn, 1):.2f} "
                         f"(tp {tp} fp {fp} fn {fn})" for thr, (tp, fp, fn) in counts.items())
        print(f"{det:12s} {line}  {secs:6.1f} s")


def main(out: Path) -> None:
    import cv2

    precision_recall()

    out.mkdir(parents=True, exist_ok=True)
    for verify in (False, True):
        tiles, total = [], 0
        for p in bundled():
            img = load_image(p)
            t0 = time.perf_counter()
            faces = detect_lbp(img, verify=verify)
            ms = (time.perf_counter() - t0) * 1e3
            total += len(faces)
            print(f"verify={verify!s:5} {p.name:22s} {len(faces):2d} faces {ms:7.0f} ms  "
                  + " ".join(f"({int(f.box[0])},{int(f.box[1])},{int(f.box[2])},{int(f.box[3])})" for f in faces))
            for f in faces:
                x0, y0, x1, y1 = (int(v) for v in f.box)
                tiles.append(cv2.resize(img[y0:y1, x0:x1], (96, 96)))
        sheet = np.concatenate(tiles, 1) if tiles else np.zeros((96, 96, 3), np.uint8)
        path = out / f"crops_verify_{verify}.png"
        cv2.imwrite(str(path), sheet[:, :, ::-1])
        print(f"verify={verify}: {total} detections; crops in {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/face_detector"))
