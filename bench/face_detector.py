"""LBP face detector on the photos bundled in installed packages, with and without verification.

    python bench/face_detector.py [CROPS_DIR]

Prints each detection's box and score per image, and writes one PNG per setting with every detected
crop side by side (96x96 each, in print order) so that precision can be judged by eye. It prints
counts, it does not assert anything.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.core.imageio import load_image  # noqa: E402
from harness.faces import detect_lbp  # noqa: E402
from tasks.schema import resolve_data_root  # noqa: E402


def bundled() -> list[Path]:
    ins = resolve_data_root("pkg:insightface/data/images", Path.cwd())
    return sorted(ins.glob("*.*")) + [resolve_data_root("pkg:skimage/data", Path.cwd()) / "astronaut.png"]


def main(out: Path) -> None:
    import cv2

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
