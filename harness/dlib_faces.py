"""dlib's trained face models, installed from the package registry (``dlib-bin``, ``face-recognition-models``).

The model files come with the ``face-recognition-models`` distribution (the ones the ``face_recognition``
library uses), under ``<site-packages>/face_recognition_models/models/``:

- ``shape_predictor_5_face_landmarks.dat``: 5 points (two corners of each eye, the base of the nose);
- ``shape_predictor_68_face_landmarks.dat``: the 68 iBUG 300-W points (the layout of OpenPose's 70 face
  keypoints without the two pupils); trained on iBUG 300-W, whose terms exclude commercial use;
- ``dlib_face_recognition_resnet_model_v1.dat``: a ResNet-29 giving a 128-D face descriptor (99.38 % on
  LFW; two photos of one person lie closer than 0.6 in Euclidean distance);
- ``mmod_human_face_detector.dat``: dlib's CNN (max-margin object detection) face detector.

The package's own ``__init__`` imports ``pkg_resources``, which recent setuptools no longer ship, so the
folder is located with ``importlib.util.find_spec`` without importing it. Models load once per process
(:func:`functools.lru_cache`); each is a few MB to 100 MB and loads in well under a second.

Face detection: dlib's HOG + linear SVM frontal detector (default) or the MMOD CNN, then the 5-point
shape predictor on each box; a box whose five points do not form a face (eyes level within 40 degrees,
eye distance 20-70 % of the box width, nose below the eyes, all points inside the box grown by 20 %) is
dropped (:func:`plausible_five`), and so is, in a colour image, a box whose central half holds less than
SKIN_MIN_SHARE skin-tone pixels (:func:`harness.faces.skin_share`; it drops the astronaut's mission patch,
which the HOG detector finds with five plausible points).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
from pathlib import Path

import numpy as np

from harness.core.errors import WeightsNotFound
from harness.faces import ARCFACE_TEMPLATE, SKIN_MIN_SHARE, Face, is_gray, skin_share

MODELS_PACKAGE = "face_recognition_models"
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"
MMOD_MODEL = "mmod_human_face_detector.dat"
DLIB_DETECTORS = ("dlib-hog", "dlib-mmod")
UPSAMPLE_MAX_SIDE = 800     # images whose long side is at most this are upsampled once (finds faces >= 40 px)


def models_dir() -> Path:
    """Folder of the face-recognition-models files; WeightsNotFound naming the package when absent."""
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFound(f"dlib's face models are not installed: expected the {MODELS_PACKAGE!r} package "
                              "(pip install face-recognition-models).")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def model_path(name: str) -> Path:
    """Path of one dlib model file; WeightsNotFound naming the expected path."""
    path = models_dir() / name
    if not path.is_file():
        raise WeightsNotFound(f"dlib model file not found: expected {path} (reinstall face-recognition-models).")
    return path


def check_dlib() -> None:
    """WeightsNotFound when dlib itself is not importable."""
    if importlib.util.find_spec("dlib") is None:
        raise WeightsNotFound("dlib is not installed (pip install dlib-bin).")


@functools.lru_cache(maxsize=None)
def file_sha256(path: str) -> str:
    """Hex sha256 of a file (cached per path: the model files are read-only package data)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def _model(kind: str, name: str):
    import dlib

    if kind == "hog":
        return dlib.get_frontal_face_detector()
    path = str(model_path(name))
    return {"shape": dlib.shape_predictor, "recognition": dlib.face_recognition_model_v1,
            "mmod": dlib.cnn_face_detection_model_v1}[kind](path)


def _rect(box):
    import dlib

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return dlib.rectangle(x0, y0, x1, y1)


def shape_points(image: np.ndarray, box, *, points: int = 5) -> np.ndarray:
    """dlib shape-predictor landmarks of the face in ``box`` (x0, y0, x1, y1): (points, 2) float32 x, y.
    ``image``: RGB uint8 (H, W, 3); ``points``: 5 or 68 (iBUG 300-W order)."""
    name = {5: LANDMARKS_5, 68: LANDMARKS_68}[points]
    shape = _model("shape", name)(np.ascontiguousarray(image), _rect(box))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def plausible_five(five: np.ndarray, box) -> bool:
    """Whether dlib's five points (eye corners 0-1 and 2-3, nose base 4) form a face inside ``box``."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0:
        return False
    grow = 0.2
    inside = ((five[:, 0] >= x0 - grow * w) & (five[:, 0] <= x1 + grow * w)
              & (five[:, 1] >= y0 - grow * h) & (five[:, 1] <= y1 + grow * h))
    e1, e2, nose = five[0:2].mean(0), five[2:4].mean(0), five[4]
    dx, dy = e2 - e1
    eye_dist = math.hypot(dx, dy)
    tilt = abs(math.degrees(math.atan2(dy, dx)))
    tilt = min(tilt, 180 - tilt)
    # nose below the eye line, on the face's downward side: the cross product's sign in image coordinates
    mid = (e1 + e2) / 2
    down = np.array([-dy, dx]) if dx >= 0 else np.array([dy, -dx])
    nose_below = float((nose - mid) @ down) > 0.1 * eye_dist
    return bool(inside.all() and tilt <= 40 and 0.2 * w <= eye_dist <= 0.7 * w and nose_below)


def arcface_five(five: np.ndarray) -> np.ndarray:
    """ArcFace-order landmarks (left eye, right eye, nose, mouth left, mouth right; image left first) from
    dlib's five points: eye centres and the nose base, mouth corners placed by the ArcFace template's
    similarity transform through the two eyes."""
    a, b = five[0:2].mean(0), five[2:4].mean(0)
    left, right = (a, b) if a[0] <= b[0] else (b, a)
    src = ARCFACE_TEMPLATE[:2].astype(np.float64)
    s_vec, d_vec = src[1] - src[0], right - left
    s = complex(*d_vec) / complex(*s_vec)
    def place(p):
        z = complex(*(p - src[0])) * s
        return left + np.array([z.real, z.imag])
    return np.array([left, right, five[4], place(ARCFACE_TEMPLATE[3]), place(ARCFACE_TEMPLATE[4])], dtype=np.float32)


def detect_dlib(image: np.ndarray, *, detector: str = "dlib-hog", upsample: int | None = None,
                verify: bool = True) -> list[Face]:
    """Faces in ``image`` (RGB uint8 (H, W, 3)) by dlib's HOG detector or MMOD CNN, largest first.

    ``upsample``: image doublings before detection (default: 1 when the long side is at most
    UPSAMPLE_MAX_SIDE px, else 0). With ``verify``, boxes whose 5-point landmarks fail
    :func:`plausible_five`, or (colour images) with too little skin tone, are dropped.
    ``Face.score`` is the detector's confidence (SVM margin / CNN score).
    """
    if detector not in DLIB_DETECTORS:
        raise ValueError(f"unknown dlib detector {detector!r}; choose one of {list(DLIB_DETECTORS)}")
    img = np.ascontiguousarray(image)
    if upsample is None:
        upsample = 1 if max(img.shape[:2]) <= UPSAMPLE_MAX_SIDE else 0
    if detector == "dlib-hog":
        rects, scores, _ = _model("hog", "").run(img, upsample, 0.0)
        found = list(zip(rects, scores))
    else:
        found = [(d.rect, d.confidence) for d in _model("mmod", MMOD_MODEL)(img, upsample)]
    h, w = img.shape[:2]
    check_skin = verify and not is_gray(img)
    faces = []
    for r, score in found:
        box = (float(max(r.left(), 0)), float(max(r.top(), 0)), float(min(r.right(), w)), float(min(r.bottom(), h)))
        five = shape_points(img, (r.left(), r.top(), r.right(), r.bottom()), points=5)
        if verify and not plausible_five(five, box):
            continue
        if check_skin:
            x0, y0, x1, y1 = (int(v) for v in box)
            bw, bh = x1 - x0, y1 - y0
            if skin_share(img[y0 + bh // 4:y1 - bh // 4, x0 + bw // 4:x1 - bw // 4]) < SKIN_MIN_SHARE:
                continue
        faces.append(Face(box=box, score=float(score), landmarks=arcface_five(five), detector=detector))
    return sorted(faces, key=lambda f: (-f.area, f.box))


def face_descriptor(image: np.ndarray, box) -> np.ndarray:
    """dlib's 128-D ResNet descriptor of the face in ``box`` (aligned by the 5-point predictor with
    dlib's ``get_face_chip``, 150 x 150, no jitter). ``image``: RGB uint8."""
    img = np.ascontiguousarray(image)
    shape = _model("shape", LANDMARKS_5)(img, _rect(box))
    return np.asarray(_model("recognition", RECOGNITION_MODEL).compute_face_descriptor(img, shape, 0),
                      dtype=np.float64)
