"""Face detection shared by the face-regeneration builder and the identity scorer.

Two detectors, chosen by what is on disk:
- insightface's SCRFD detector (``det_10g.onnx`` or any ``det_*.onnx`` under the insightface weights
  folder) when present: boxes, scores and the five landmarks (eyes, nose, mouth corners);
- otherwise scikit-image's bundled LBP frontal-face cascade (a classical detector that needs no
  download). The cascade groups its raw hits itself (``min_neighbor_number``); of two reported faces
  that overlap by more than half of the smaller one, the larger is kept. It has false positives on
  textured backgrounds. Landmarks are estimated from the box with the ArcFace template's proportions.

Every :class:`Face` says which detector produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# ArcFace's 112x112 alignment template (insightface.utils.face_align.arcface_dst): left eye, right eye,
# nose, left and right mouth corner, in pixels of the 112x112 crop.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    score: float
    landmarks: np.ndarray                    # (5, 2) x, y: left eye, right eye, nose, mouth left, mouth right
    detector: str                            # "scrfd" | "lbp-cascade"

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def landmarks_from_box(box) -> np.ndarray:
    """Five landmarks placed in a square box with the ArcFace template's proportions."""
    x0, y0, x1, y1 = box
    return (ARCFACE_TEMPLATE / 112.0) * np.array([x1 - x0, y1 - y0], dtype=np.float32) + np.array([x0, y0], dtype=np.float32)


def _overlap(a, b) -> float:
    """Intersection over the smaller box's area (1.0 when one box contains the other)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def suppress_overlaps(faces: list[Face], *, overlap: float = 0.5) -> list[Face]:
    """Keep the larger of two faces that overlap by more than ``overlap`` of the smaller one."""
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: (-f.area, f.box)):
        if all(_overlap(f.box, k.box) <= overlap for k in kept):
            kept.append(f)
    return kept


def detect_lbp(image: np.ndarray, *, min_neighbors: int = 4, min_size: int = 32) -> list[Face]:
    """Detect frontal faces with scikit-image's bundled LBP cascade. ``image``: RGB uint8 (H, W, 3).

    ``min_neighbors`` is the cascade's own grouping threshold (raw hits per reported face).
    """
    from skimage.color import rgb2gray
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    h, w = image.shape[:2]
    cascade = Cascade(lbp_frontal_face_cascade_filename())
    hits = cascade.detect_multi_scale(img=rgb2gray(image), scale_factor=1.1, step_ratio=1,
                                      min_size=(min_size, min_size), max_size=(min(h, w), min(h, w)),
                                      min_neighbor_number=min_neighbors)
    faces = []
    for d in hits:
        box = (float(d["c"]), float(d["r"]), float(d["c"] + d["width"]), float(d["r"] + d["height"]))
        faces.append(Face(box=box, score=1.0, landmarks=landmarks_from_box(box), detector="lbp-cascade"))
    return suppress_overlaps(faces)


def find_scrfd(weights_dir: str | Path | None) -> Path | None:
    """Path of an insightface SCRFD detector ONNX in ``weights_dir``, if any."""
    if weights_dir is None:
        return None
    d = Path(weights_dir)
    for name in ("det_10g.onnx", "det_2.5g.onnx", "det_500m.onnx"):
        if (d / name).is_file():
            return d / name
    found = sorted(d.glob("det_*.onnx")) if d.is_dir() else []
    return found[0] if found else None


def detect_scrfd(image: np.ndarray, model_path: str | Path, *, threshold: float = 0.5) -> list[Face]:
    """Detect faces with insightface's SCRFD ONNX (CPU). ``image``: RGB uint8; insightface wants BGR."""
    from insightface.model_zoo import get_model

    det = get_model(str(model_path), providers=["CPUExecutionProvider"])
    det.prepare(ctx_id=-1, input_size=(640, 640), det_thresh=threshold)
    bboxes, kpss = det.detect(np.ascontiguousarray(image[:, :, ::-1]), input_size=(640, 640))
    faces = []
    for i, b in enumerate(bboxes):
        lm = kpss[i].astype(np.float32) if kpss is not None else landmarks_from_box(b[:4])
        faces.append(Face(box=tuple(float(v) for v in b[:4]), score=float(b[4]), landmarks=lm, detector="scrfd"))
    return sorted(faces, key=lambda f: (-f.area, f.box))


def detect_faces(image: np.ndarray, *, weights_dir: str | Path | None = None) -> list[Face]:
    """Faces in ``image`` (RGB uint8), largest first: SCRFD when its ONNX is in ``weights_dir``, else LBP."""
    scrfd = find_scrfd(weights_dir)
    return detect_scrfd(image, scrfd) if scrfd else detect_lbp(image)
