"""Identity preservation: how close the output face is to the source face, by one of two trained models.

Backends (option ``backend``; ``auto``, the default, takes ``arcface`` when its weights are found, else ``dlib``).
Each fills its own column, so two backends' numbers never share a column, a leaderboard or a gate:

- ``arcface`` -> ``cosine`` (higher, [-1, 1]): insightface's ArcFace ONNX from $EDITBENCH_WEIGHTS/insightface
  (or the ``weights`` option): ``w600k_r50.onnx`` from the buffalo_l pack, or the one other ``*.onnx`` not
  named ``det_*``, or the file named by the ``recognition`` option; insightface's model zoo must route it
  to ArcFace (square input of >= 112 px, one output). Faces are aligned with ``face_align.norm_crop``
  (similarity transform of five landmarks onto ``ARCFACE_TEMPLATE``, 112 x 112); cosine
  <e_ref, e_out> / (|e_ref| |e_out|). Same person: cosine above about 0.3 (insightface's verification
  threshold for buffalo_l).
- ``dlib`` -> ``distance`` (lower, [0, 1.2]): dlib's ResNet 128-D descriptor
  (``dlib_face_recognition_resnet_model_v1.dat`` from face-recognition-models; 99.38 % on LFW) of the face
  aligned by dlib's 5-point predictor; Euclidean distance, clipped to DLIB_MAX_DISTANCE = 1.2 (farther
  than any two different people of bench/identity_validity.py). Same person: distance below
  DLIB_THRESHOLD = 0.6 (dlib's documented threshold).

Faces come from :func:`harness.face_detectors.detect` (SCRFD when a ``det_*.onnx`` is in the insightface
folder, else dlib's HOG detector with its 5-point check; option ``detector``):

- reference face: of ``task.reference`` (else ``task.image``): when the reference has the source's size
  (the same photo), the largest face whose box centre lies in the mask; else the largest face;
- output face: the largest face of the output whose box centre lies in the mask (mask resized to the
  output grid); a face elsewhere in the picture is not the regenerated one and does not count. Tasks
  without a mask take the largest face;
- ``detected`` (higher) = 1 if the output holds such a face, else 0;
- ``detector_scrfd`` = 1 if the faces came from SCRFD, else 0 (provenance, never ranked).

A lost face is a result: no face near the source face in the output gives the column's worst value
(cosine LOST_FACE_COSINE = -1, distance DLIB_MAX_DISTANCE = 1.2) and detected = 0, so a pipeline that
erases faces ranks last, never "tied"; no face in the reference gives NaN. run.json's metrics record
carries the backend, the model file and its sha256 for every identity column (:meth:`describe`); the
gate refuses two runs whose identity backends or model files differ.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.core.errors import EditbenchError, WeightsNotFound
from harness.core.imageio import load_image, load_mask
from harness.core.pixels import rgb_to_bgr
from harness.core.weights import resolve_weights
from harness.dlib_faces import RECOGNITION_MODEL, check_dlib, face_descriptor, file_sha256, model_path
from harness.face_detectors import detect_in, mask_region, resolve_detector
from harness.faces import Face
from scorers.base import Metric, Scorer
from scorers.regions import source_shape
from tasks.schema import Task

DEFAULT_RECOGNITION = "w600k_r50.onnx"


def align_face(image: np.ndarray, landmarks: np.ndarray, *, size: int = 112) -> np.ndarray:
    """Warp the face with five ``landmarks`` ((5, 2) pixels) onto the ArcFace template; (size, size, 3).

    insightface.utils.face_align.norm_crop: least-squares similarity transform (scikit-image
    ``SimilarityTransform.estimate``) from the landmarks to ``ARCFACE_TEMPLATE * size / 112``.
    Works on any channel order (it only warps).
    """
    from insightface.utils import face_align

    return face_align.norm_crop(image, landmark=np.asarray(landmarks, dtype=np.float32), image_size=size)


def alignment_matrix(landmarks: np.ndarray, *, size: int = 112) -> np.ndarray:
    """The 2x3 affine matrix ``align_face`` uses (insightface.utils.face_align.estimate_norm)."""
    from insightface.utils import face_align

    return face_align.estimate_norm(np.asarray(landmarks, dtype=np.float32), size)


def find_recognition(folder: Path, explicit: str | None = None) -> Path:
    """The recognition ONNX in ``folder``; WeightsNotFound naming the expected file."""
    if explicit:
        p = Path(explicit).expanduser()
        p = p if p.is_absolute() else folder / p
        if not p.is_file():
            raise WeightsNotFound(f"insightface recognition model not found: expected {p}.")
        return p
    if (folder / DEFAULT_RECOGNITION).is_file():
        return folder / DEFAULT_RECOGNITION
    others = sorted(p for p in folder.glob("*.onnx") if not p.name.startswith("det_"))
    if len(others) == 1:
        return others[0]
    if not others:
        raise WeightsNotFound(f"weights for insightface are incomplete: expected a recognition ONNX such as "
                              f"{folder / DEFAULT_RECOGNITION}.")
    raise EditbenchError(f"{folder} holds several recognition ONNX files ({', '.join(p.name for p in others)}); "
                         "name one with the identity scorer's recognition option.")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def pick_face(faces: list[Face], mask: np.ndarray | None) -> Face | None:
    """Largest face whose box centre lies in ``mask`` (if given and any does), else the largest face."""
    if not faces:
        return None
    faces = sorted(faces, key=lambda f: -f.area)
    if mask is not None:
        h, w = mask.shape
        for f in faces:
            cx, cy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
            if 0 <= int(cy) < h and 0 <= int(cx) < w and mask[int(cy), int(cx)]:
                return f
    return faces[0]


LOST_FACE_COSINE = -1.0    # cosine of a row whose output holds no face: the floor of [-1, 1]
DLIB_THRESHOLD = 0.6       # dlib: two photos of one person lie closer than this (dlib's documentation)
DLIB_MAX_DISTANCE = 1.2    # dlib distances are clipped here; a lost face scores it
BACKENDS = ("auto", "arcface", "dlib")


def in_mask(face: Face, mask: np.ndarray) -> bool:
    h, w = mask.shape
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    return bool(0 <= int(cy) < h and 0 <= int(cx) < w and mask[int(cy), int(cx)])


def pick_output_face(faces: list[Face], mask: np.ndarray | None) -> Face | None:
    """Largest face whose box centre lies in ``mask``; None when there is none (the face was lost).
    Without a mask: the largest face."""
    faces = sorted(faces, key=lambda f: -f.area)
    if mask is None:
        return faces[0] if faces else None
    return next((f for f in faces if in_mask(f, mask)), None)


def mask_on(task, image: np.ndarray) -> np.ndarray | None:
    """The task's mask on ``image``'s grid (nearest-neighbour resize), or None when the task has none."""
    if task.mask is None:
        return None
    mask = load_mask(task.mask, shape=source_shape(task), where=f"task {task.task_id}")
    if mask.shape != image.shape[:2]:
        from PIL import Image

        mask = np.asarray(Image.fromarray(mask).resize((image.shape[1], image.shape[0]), Image.NEAREST))
    return mask


def face_pair(task, output_image: np.ndarray, *, detector: str, weights_dir, cache: dict | None = None) -> tuple:
    """(reference image, reference face, output face) of a task, as the module docstring describes.
    Faces are searched near the mask (:func:`harness.face_detectors.mask_region`); ``cache`` keeps the
    reference's (image, face) per (task, reference path)."""
    key = (task.task_id, str(task.reference or task.image))
    if cache is None or key not in cache:
        ref_img = load_image(task.reference or task.image)
        ref_mask = mask_on(task, ref_img) if ref_img.shape[:2] == source_shape(task) else None
        region = mask_region(ref_mask) if ref_mask is not None else None
        ref_face = pick_face(detect_in(ref_img, region, detector=detector, weights_dir=weights_dir), ref_mask)
        if cache is not None:
            cache[key] = (ref_img, ref_face)
    else:
        ref_img, ref_face = cache[key]
    out_mask = mask_on(task, output_image)
    region = mask_region(out_mask) if out_mask is not None else None
    out_faces = detect_in(output_image, region, detector=detector, weights_dir=weights_dir)
    return ref_img, ref_face, pick_output_face(out_faces, out_mask)


class IdentityScorer(Scorer):
    name = "identity"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    metrics = {"cosine": Metric("higher", range=(-1.0, 1.0), version=3),
               "distance": Metric("lower", range=(0.0, DLIB_MAX_DISTANCE)),
               "detected": Metric("higher", range=(0.0, 1.0), version=2),
               # which detector found the face (1 = SCRFD, 0 = dlib / LBP): provenance, never ranked or gated
               "detector_scrfd": Metric("none", role="provenance", range=(0.0, 1.0))}
    weights = ("insightface/w600k_r50.onnx (arcface backend)", "insightface/det_10g.onnx (optional)",
               f"face_recognition_models/models/{RECOGNITION_MODEL} (dlib backend, installed)")

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        backend: Literal["auto", "arcface", "dlib"] = "auto"   # auto: arcface when its weights are found
        weights: str | None = None      # insightface folder; default $EDITBENCH_WEIGHTS/insightface
        recognition: str | None = None  # recognition ONNX (absolute or relative to the folder)
        detector: str = "auto"          # harness.face_detectors name; auto: SCRFD if present, else dlib-hog
        device: str | None = None       # "cuda" or "cpu" (arcface); default: cuda when onnxruntime has it

    model = None
    folder: Path | None = None

    def weights_dir(self) -> Path:
        return resolve_weights("insightface", self.options.weights)

    def backend(self) -> str:
        """The backend this scorer computes with (``auto`` resolved); raises when the asked one is missing."""
        if self.options.backend == "arcface":
            find_recognition(self.weights_dir(), self.options.recognition)
            return "arcface"
        if self.options.backend == "auto":
            try:
                find_recognition(self.weights_dir(), self.options.recognition)
                return "arcface"
            except WeightsNotFound:
                pass
        check_dlib()
        model_path(RECOGNITION_MODEL)
        return "dlib"

    def model_file(self) -> Path:
        if self.backend() == "arcface":
            return find_recognition(self.weights_dir(), self.options.recognition)
        return model_path(RECOGNITION_MODEL)

    def check(self) -> None:
        self.backend()
        resolve_detector(self.options.detector, self._insightface_dir())

    def describe(self) -> dict[str, dict]:
        """run.json metrics fields of this scorer's columns: backend, model file and its sha256."""
        path = self.model_file()
        extra = {"backend": self.backend(), "model": path.name, "sha256": file_sha256(str(path))}
        return {col: dict(extra) for col in self.columns()}

    def _insightface_dir(self) -> Path | None:
        try:
            return self.weights_dir()
        except WeightsNotFound:
            return None

    def load(self) -> None:
        """Load the backend's model (in the Ray worker, never in the driver)."""
        self.folder = self._insightface_dir()
        self._refs: dict = {}            # (task_id, reference path) -> (image, face): each reference read once
        self.scrfd = resolve_detector(self.options.detector, self.folder) == "scrfd"
        if self.backend() == "dlib":
            self.model = "dlib"
            return
        import onnxruntime
        from insightface.model_zoo import get_model
        from insightface.model_zoo.arcface_onnx import ArcFaceONNX

        path = find_recognition(self.folder, self.options.recognition)
        available = onnxruntime.get_available_providers()
        want_cuda = self.options.device != "cpu" and "CUDAExecutionProvider" in available
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if want_cuda else ["CPUExecutionProvider"]
        model = get_model(str(path), providers=providers)
        if not isinstance(model, ArcFaceONNX):
            raise EditbenchError(f"{path} is not a face-recognition model insightface routes to ArcFace "
                                 f"(got {type(model).__name__}); it needs a square >= 112 px input and one output.")
        model.prepare(ctx_id=0 if want_cuda else -1)
        self.model = model

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """ArcFace embeddings (N, D) of aligned RGB uint8 crops; one batched call when the model allows it."""
        bgr = [rgb_to_bgr(c) for c in crops]
        if not bgr:
            return np.zeros((0, 0), dtype=np.float32)
        batch = self.model.input_shape[0]
        if isinstance(batch, int):
            return np.concatenate([self.model.get_feat(bgr[i:i + batch]) for i in range(0, len(bgr), batch)])
        return self.model.get_feat(bgr)

    def score(self, task: Task, output) -> dict[str, float]:
        return self.score_batch([task], [output])[0]

    def score_batch(self, tasks, outputs) -> list[dict[str, float]]:
        if self.model is None:
            self.load()
        dlib_backend = self.model == "dlib"
        crops, pairs = [], []
        for task, output in zip(tasks, outputs):
            out_img = np.asarray(output.image)
            ref_img, ref_face, out_face = face_pair(task, out_img, detector=self.options.detector,
                                                    weights_dir=self.folder, cache=self._refs)
            value = math.nan
            if out_face is None:
                value = math.nan if ref_face is None else (DLIB_MAX_DISTANCE if dlib_backend else LOST_FACE_COSINE)
            elif ref_face is not None and dlib_backend:
                d = np.linalg.norm(face_descriptor(ref_img, ref_face.box) - face_descriptor(out_img, out_face.box))
                value = float(min(d, DLIB_MAX_DISTANCE))
            elif ref_face is not None:
                value = len(crops)
                crops += [align_face(ref_img, ref_face.landmarks), align_face(out_img, out_face.landmarks)]
            pairs.append((out_face, value))
        emb = self.embed(crops) if crops else None
        rows = []
        for out_face, value in pairs:
            row = {"cosine": math.nan, "distance": math.nan, "detected": 0.0 if out_face is None else 1.0,
                   "detector_scrfd": 1.0 if self.scrfd else 0.0}
            if dlib_backend:
                row["distance"] = value
            elif isinstance(value, int):
                row["cosine"] = cosine(emb[value], emb[value + 1])
            else:
                row["cosine"] = value
            rows.append(row)
        return rows
