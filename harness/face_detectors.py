"""Which face detector to use, by name: the one choice shared by the face-regen builder and the face scorers.

- ``dlib-hog`` (default): dlib's HOG + linear SVM frontal detector with the 5-point landmark check
  (:func:`harness.dlib_faces.detect_dlib`); installed with the project (``dlib-bin``);
- ``dlib-mmod``: dlib's MMOD CNN detector (same check; slower on CPU, finds more non-frontal faces);
- ``scrfd``: insightface's SCRFD ONNX (``det_*.onnx`` in the insightface weights folder);
- ``lbp-cascade``: scikit-image's LBP cascade with a HOG verifier (:func:`harness.faces.detect_lbp`);
- ``auto``: ``scrfd`` when a ``det_*.onnx`` is in ``weights_dir``, else ``dlib-hog``.

Measured on hand-labelled boxes of the bundled photos by ``python bench/face_detector.py`` (docs/metrics.md).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from harness.core.errors import EditbenchError, WeightsNotFound
from harness.dlib_faces import DLIB_DETECTORS, detect_dlib
from harness.faces import Face, detect_lbp, detect_scrfd, find_scrfd

DETECTORS = ("auto", "dlib-hog", "dlib-mmod", "scrfd", "lbp-cascade")


def resolve_detector(detector: str, weights_dir: str | Path | None = None) -> str:
    """The concrete detector ``detector`` names (``auto`` resolved against ``weights_dir``)."""
    if detector not in DETECTORS:
        raise EditbenchError(f"unknown face detector {detector!r}; choose one of {list(DETECTORS)}.")
    if detector == "auto":
        return "scrfd" if find_scrfd(weights_dir) is not None else "dlib-hog"
    if detector == "scrfd" and find_scrfd(weights_dir) is None:
        raise WeightsNotFound(f"face detector scrfd needs insightface's det_10g.onnx (or another det_*.onnx) in "
                              f"{weights_dir if weights_dir is not None else 'the insightface weights folder'}.")
    return detector


def detect(image: np.ndarray, *, detector: str = "auto", weights_dir: str | Path | None = None) -> list[Face]:
    """Faces in ``image`` (RGB uint8 (H, W, 3)), largest first, by the detector ``detector`` names."""
    name = resolve_detector(detector, weights_dir)
    if name in DLIB_DETECTORS:
        return detect_dlib(image, detector=name)
    if name == "scrfd":
        return detect_scrfd(image, find_scrfd(weights_dir))
    return detect_lbp(image)


def mask_region(mask: np.ndarray, *, grow: float = 0.5) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of ``mask``'s nonzero pixels grown by ``grow`` of its size on each side,
    clipped to the image; None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    gx, gy = int(grow * (x1 - x0)), int(grow * (y1 - y0))
    h, w = mask.shape[:2]
    return max(0, x0 - gx), max(0, y0 - gy), min(w, x1 + gx), min(h, y1 + gy)


def detect_in(image: np.ndarray, region: tuple[int, int, int, int] | None, *, detector: str = "auto",
              weights_dir: str | Path | None = None) -> list[Face]:
    """:func:`detect` on the crop ``region`` (x0, y0, x1, y1) of ``image`` (the whole image when None), with
    boxes and landmarks in ``image``'s pixels."""
    if region is None:
        return detect(image, detector=detector, weights_dir=weights_dir)
    x0, y0, x1, y1 = region
    found = detect(np.ascontiguousarray(image[y0:y1, x0:x1]), detector=detector, weights_dir=weights_dir)
    off = np.array([x0, y0], dtype=np.float32)
    return [replace(f, box=(f.box[0] + x0, f.box[1] + y0, f.box[2] + x0, f.box[3] + y0),
                    landmarks=f.landmarks + off) for f in found]


def box_iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_counts(found: list[tuple[float, float, float, float]], truth: list[tuple[float, float, float, float]], *,
                 iou: float = 0.4) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of detected boxes against labelled boxes: greedy
    one-to-one matching, best IoU first, a match needing IoU >= ``iou``."""
    pairs = sorted(((box_iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)), reverse=True)
    used_f, used_t = set(), set()
    for v, i, j in pairs:
        if v >= iou and i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
    tp = len(used_f)
    return tp, len(found) - tp, len(truth) - tp
