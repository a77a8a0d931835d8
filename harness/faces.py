"""Face detection shared by the face-regeneration builder and the identity scorer.

Two detectors, chosen by what is on disk:
- insightface's SCRFD detector (``det_10g.onnx`` or any ``det_*.onnx`` under the insightface weights
  folder) when present: boxes, scores and the five landmarks (eyes, nose, mouth corners);
- otherwise scikit-image's bundled LBP frontal-face cascade (a classical detector that needs no
  download). The cascade groups its raw hits itself (``min_neighbor_number``). It fires on textured
  backgrounds, so each hit is then verified: a HOG + logistic-regression check fitted on scikit-image's
  bundled LFW subset, and a skin-tone share in colour images (see :func:`detect_lbp`). Of two faces
  that overlap by more than half of the smaller one, the stronger (then the larger) is kept.
  Landmarks are estimated from the box with the ArcFace template's proportions.

Every :class:`Face` says which detector produced it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.core.pixels import rgb_to_bgr

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


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def suppress_overlaps(faces: list[Face], *, overlap: float = 0.5, key=None) -> list[Face]:
    """Of two faces overlapping by more than ``overlap`` of the smaller one, keep the one first in
    ``key`` order (default: the larger)."""
    kept: list[Face] = []
    for f in sorted(faces, key=key or (lambda f: (-f.area, f.box))):
        if all(_overlap(f.box, k.box) <= overlap for k in kept):
            kept.append(f)
    return kept


# Second-stage check of the LBP cascade's hits (it fires on textures: poker chips, walls, badges).
VERIFY_SIZE = 24          # crops are resized to 24x24 gray before HOG
VERIFY_THRESHOLD = 0.5    # logistic margin a crop's HOG must exceed to count as a face
SKIN_MIN_SHARE = 0.3      # colour crops: share of skin-tone pixels required in the box's central half
MIN_CONTRAST = 0.05       # std of the gray crop (0..1) below this: a flat patch, not a face
GRAY_CHROMA = 4.0         # image mean |Cr-128| + |Cb-128| below this: a gray image, no skin check


def _hog(gray: np.ndarray) -> np.ndarray:
    from skimage.feature import hog
    from skimage.transform import resize

    return hog(resize(gray, (VERIFY_SIZE, VERIFY_SIZE), anti_aliasing=True), orientations=9,
               pixels_per_cell=(6, 6), cells_per_block=(2, 2))


@functools.lru_cache(maxsize=1)
def _face_verifier():
    """Logistic regression on HOG features of scikit-image's bundled LFW subset (100 face and 100
    non-face 25x25 crops), fitted deterministically (gradient descent from zero, L2 1e-2).
    Returns (mean, std, weights, bias)."""
    from skimage.data import lfw_subset

    x = lfw_subset()
    y = np.r_[np.ones(100), np.zeros(100)]
    f = np.array([_hog(c) for c in x])
    mu, sd = f.mean(0), f.std(0) + 1e-6
    z = (f - mu) / sd
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(2000):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        w -= 0.5 * (z.T @ (p - y) / len(y) + 1e-2 * w)
        b -= 0.5 * float((p - y).mean())
    return mu, sd, w, b


def face_margin(gray: np.ndarray) -> float:
    """Verifier margin of a gray crop in [0, 1] (> VERIFY_THRESHOLD: looks like a frontal face)."""
    mu, sd, w, b = _face_verifier()
    return float(((_hog(gray) - mu) / sd) @ w + b)


def is_gray(rgb: np.ndarray) -> bool:
    """True when an RGB image carries (almost) no colour: mean |Cr-128| + |Cb-128| below GRAY_CHROMA."""
    import cv2

    ycc = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb).astype(np.int16)
    return float(np.abs(ycc[..., 1] - 128).mean() + np.abs(ycc[..., 2] - 128).mean()) < GRAY_CHROMA


def skin_share(rgb: np.ndarray) -> float:
    """Share of skin-tone pixels of an RGB crop (YCrCb: 133 <= Cr <= 173, 77 <= Cb <= 127; Chai & Ngan 1999)."""
    import cv2

    ycc = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb)
    cr, cb = ycc[..., 1], ycc[..., 2]
    return float(((cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127)).mean())


def detect_lbp(image: np.ndarray, *, min_neighbors: int = 4, min_size: int = 32, verify: bool = True) -> list[Face]:
    """Detect frontal faces with scikit-image's bundled LBP cascade. ``image``: RGB uint8 (H, W, 3).

    ``min_neighbors`` is the cascade's own grouping threshold (raw hits per reported face). With
    ``verify``, each hit must also have some contrast (gray std >= MIN_CONTRAST), pass a HOG check
    (:func:`face_margin`) and, in colour images, hold skin tones in its central half
    (:func:`skin_share`); ``Face.score`` is the verifier's probability.
    Of overlapping hits the one that also survives twice the grouping threshold wins, then the larger.
    """
    from skimage.color import rgb2gray
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    h, w = image.shape[:2]
    gray = rgb2gray(image)
    cascade = Cascade(lbp_frontal_face_cascade_filename())

    def boxes(region, mn: int) -> list[tuple[int, int, int, int]]:
        x0, y0, x1, y1 = region
        side = min(x1 - x0, y1 - y0)
        hits = cascade.detect_multi_scale(img=gray[y0:y1, x0:x1], scale_factor=1.1, step_ratio=1,
                                          min_size=(min_size, min_size), max_size=(side, side), min_neighbor_number=mn)
        return [(x0 + int(d["c"]), y0 + int(d["r"]), x0 + int(d["c"] + d["width"]), y0 + int(d["r"] + d["height"]))
                for d in hits]

    check_skin = verify and not is_gray(image)
    faces = []
    for x0, y0, x1, y1 in boxes((0, 0, w, h), min_neighbors):
        score = 1.0
        if verify:
            crop = gray[y0:y1, x0:x1]
            if crop.std() < MIN_CONTRAST:
                continue
            margin = face_margin(crop)
            bw, bh = x1 - x0, y1 - y0
            skin = skin_share(image[y0 + bh // 4:y1 - bh // 4, x0 + bw // 4:x1 - bw // 4]) if check_skin else 1.0
            if margin <= VERIFY_THRESHOLD or skin < SKIN_MIN_SHARE:
                continue
            score = 1.0 / (1.0 + math.exp(-margin))
        box = (float(x0), float(y0), float(x1), float(y1))
        faces.append(Face(box=box, score=score, landmarks=landmarks_from_box(box), detector="lbp-cascade"))
    strong: set = set()
    clash = [f for f in faces if any(g is not f and _overlap(f.box, g.box) > 0.5 for g in faces)]
    if verify and clash:
        # Rescan only the region of overlapping hits with twice the grouping threshold: a hit that
        # survives it (IoU > 0.5 with a stronger hit) wins over a weaker one, whatever their sizes.
        pad = max(max(f.box[2] - f.box[0] for f in clash) // 4, 8)
        region = (max(0, int(min(f.box[0] for f in clash) - pad)), max(0, int(min(f.box[1] for f in clash) - pad)),
                  min(w, int(max(f.box[2] for f in clash) + pad)), min(h, int(max(f.box[3] for f in clash) + pad)))
        again = boxes(region, 2 * min_neighbors)
        strong = {f.box for f in clash if any(_iou(f.box, b) > 0.5 for b in again)}
    kept = suppress_overlaps(faces, key=lambda f: (f.box not in strong, -f.area, f.box))
    return sorted(kept, key=lambda f: (-f.area, f.box))


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
    bboxes, kpss = det.detect(rgb_to_bgr(image), input_size=(640, 640))
    faces = []
    for i, b in enumerate(bboxes):
        lm = kpss[i].astype(np.float32) if kpss is not None else landmarks_from_box(b[:4])
        faces.append(Face(box=tuple(float(v) for v in b[:4]), score=float(b[4]), landmarks=lm, detector="scrfd"))
    return sorted(faces, key=lambda f: (-f.area, f.box))


def detect_faces(image: np.ndarray, *, weights_dir: str | Path | None = None) -> list[Face]:
    """Faces in ``image`` (RGB uint8), largest first: SCRFD when its ONNX is in ``weights_dir``, else LBP."""
    scrfd = find_scrfd(weights_dir)
    return detect_scrfd(image, scrfd) if scrfd else detect_lbp(image)
