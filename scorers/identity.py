"""Identity preservation: ArcFace cosine similarity between the source face and the output face.

Weights ($EDITBENCH_WEIGHTS/insightface, or the ``weights`` option): a recognition ONNX
(``w600k_r50.onnx`` from insightface's buffalo_l pack, or the one other ``*.onnx`` not named
``det_*``, or the file named by the ``recognition`` option) that insightface's model zoo routes to
ArcFace (square input of >= 112 px, one output), plus optionally an SCRFD detector ``det_*.onnx``.

Faces come from :func:`harness.faces.detect_faces`: SCRFD (box + five landmarks) when a
``det_*.onnx`` is present, else scikit-image's LBP cascade with landmarks placed from the box.
Each face is aligned with insightface's ``face_align.norm_crop`` (similarity transform of the five
landmarks onto ``ARCFACE_TEMPLATE``, 112 x 112) and embedded by ArcFace (insightface's BGR input,
(x - 127.5) / 127.5).

- reference face: the largest face of ``task.reference`` if the task has one, else of
  ``task.image``, preferring faces whose box centre lies in the mask;
- output face: the largest face of the output whose box centre lies in the mask (mask resized to
  the output grid), else the largest face;
- ``cosine`` (higher) = <e_ref, e_out> / (|e_ref| |e_out|), in [-1, 1], not clipped;
- ``detected`` (higher) = 1 if the output holds a face, else 0;
- ``detector_scrfd`` = 1 if the faces came from SCRFD, 0 if from the LBP cascade (provenance: the
  row holds only floats; LBP landmarks are box-derived, so cosines from the two detectors are
  not comparable).

Missing values: no face in the output gives cosine = LOST_FACE_COSINE = -1, the minimum of the
cosine range, and detected = 0 (a lost face is the worst outcome, not a gap: it cannot rank above
any real face, however dissimilar); no face in the reference gives cosine = NaN.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.core.errors import EditbenchError, WeightsNotFound
from harness.core.imageio import load_image, load_mask
from harness.core.pixels import rgb_to_bgr
from harness.core.weights import resolve_weights
from harness.faces import Face, detect_faces, find_scrfd
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


LOST_FACE_COSINE = -1.0  # cosine of a row whose output holds no face: the floor of [-1, 1]


class IdentityScorer(Scorer):
    name = "identity"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    metrics = {"cosine": Metric("higher", range=(-1.0, 1.0), version=2), "detected": Metric("higher", range=(0.0, 1.0)),
               # which detector found the face (1 = SCRFD, 0 = LBP cascade): provenance, never ranked or gated
               "detector_scrfd": Metric("none", role="provenance", range=(0.0, 1.0))}
    weights = ("insightface/w600k_r50.onnx", "insightface/det_10g.onnx (optional)")

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        weights: str | None = None      # folder; default $EDITBENCH_WEIGHTS/insightface
        recognition: str | None = None  # recognition ONNX (absolute or relative to the folder)
        device: str | None = None       # "cuda" or "cpu"; default: cuda when onnxruntime has it

    model = None

    def weights_dir(self) -> Path:
        return resolve_weights("insightface", self.options.weights)

    def check(self) -> None:
        find_recognition(self.weights_dir(), self.options.recognition)

    def load(self) -> None:
        """Build the onnxruntime session (in the Ray worker, never in the driver)."""
        import onnxruntime
        from insightface.model_zoo import get_model
        from insightface.model_zoo.arcface_onnx import ArcFaceONNX

        folder = self.weights_dir()
        path = find_recognition(folder, self.options.recognition)
        available = onnxruntime.get_available_providers()
        want_cuda = self.options.device != "cpu" and "CUDAExecutionProvider" in available
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if want_cuda else ["CPUExecutionProvider"]
        model = get_model(str(path), providers=providers)
        if not isinstance(model, ArcFaceONNX):
            raise EditbenchError(f"{path} is not a face-recognition model insightface routes to ArcFace "
                                 f"(got {type(model).__name__}); it needs a square >= 112 px input and one output.")
        model.prepare(ctx_id=0 if want_cuda else -1)
        self.model, self.folder = model, folder
        self.scrfd = find_scrfd(folder) is not None

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """ArcFace embeddings (N, D) of aligned RGB uint8 crops; one batched call when the model allows it."""
        bgr = [rgb_to_bgr(c) for c in crops]
        if not bgr:
            return np.zeros((0, 0), dtype=np.float32)
        batch = self.model.input_shape[0]
        if isinstance(batch, int):
            return np.concatenate([self.model.get_feat(bgr[i:i + batch]) for i in range(0, len(bgr), batch)])
        return self.model.get_feat(bgr)

    def _face(self, image: np.ndarray, mask_spec, task: Task) -> Face | None:
        faces = detect_faces(image, weights_dir=self.folder)
        mask = None
        if mask_spec is not None:
            mask = load_mask(mask_spec, shape=source_shape(task), where=f"task {task.task_id}")
            if mask.shape != image.shape[:2]:
                from PIL import Image

                mask = np.asarray(Image.fromarray(mask).resize((image.shape[1], image.shape[0]), Image.NEAREST))
        return pick_face(faces, mask)

    def score(self, task: Task, output) -> dict[str, float]:
        return self.score_batch([task], [output])[0]

    def score_batch(self, tasks, outputs) -> list[dict[str, float]]:
        if self.model is None:
            self.load()
        crops, pairs = [], []
        for task, output in zip(tasks, outputs):
            ref_path = task.reference or task.image
            ref_img = load_image(ref_path)
            ref_face = self._face(ref_img, task.mask if task.reference is None else None, task)
            out_img = np.asarray(output.image)
            out_face = self._face(out_img, task.mask, task)
            pair = [None, None]
            if ref_face is not None and out_face is not None:
                pair = [len(crops), len(crops) + 1]
                crops += [align_face(ref_img, ref_face.landmarks), align_face(out_img, out_face.landmarks)]
            pairs.append((ref_face, out_face, pair))
        emb = self.embed(crops)
        rows = []
        for ref_face, out_face, (i, j) in pairs:
            if out_face is None:
                cos = math.nan if ref_face is None else LOST_FACE_COSINE
            elif ref_face is None:
                cos = math.nan
            else:
                cos = cosine(emb[i], emb[j])
            rows.append({"cosine": cos, "detected": 0.0 if out_face is None else 1.0,
                         "detector_scrfd": 1.0 if self.scrfd else 0.0})
        return rows

