"""Face pose adherence: the output face's 68 landmarks and head pose against the source face's.

Faces are found as the identity scorer finds them (:func:`scorers.identity.face_pair`: dlib's HOG
detector with its 5-point check, SCRFD when its ONNX is in the insightface folder; the output face must
have its box centre in the mask). On each face dlib's 68-point shape predictor
(``shape_predictor_68_face_landmarks.dat`` from face-recognition-models; iBUG 300-W points, the layout of
OpenPose's face keypoints without the pupils) places the landmarks; the output's are scaled to the
reference's grid when the sizes differ.

- ``nme`` (lower, [0, 1]): 300-W normalised mean error, mean landmark distance over the reference's
  inter-ocular distance (:func:`harness.head_pose.nme`), clipped to 1 (a face displaced by a whole
  eye distance does not follow the pose at all); about 0.01-0.05 for the same face re-encoded or
  blurred, 0.1 per 10 degrees of in-plane rotation, 0.25 for a shift of a quarter of the eye distance
  (bench/identity_validity.py);
- ``yaw``, ``pitch``, ``roll`` (lower, degrees, [0, 180]): absolute head-pose differences from
  ``cv2.solvePnP`` on a generic 3-D face model (:func:`harness.head_pose.head_pose`);
- ``detected`` (higher): 1 when the output holds a face near the source face, else 0.

A lost face is a result: no face in the output gives nme = 1, yaw = pitch = roll = 180 (each column's
worst value) and detected = 0. No face in the reference gives NaN. OpenPose's face keypoint model is not
used: the 68-point predictor installs with the project, OpenPose's face weights do not.

Licence: the 68-point model is trained on iBUG 300-W, whose terms exclude commercial use (docs/weights.md).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.core.errors import WeightsNotFound
from harness.core.weights import resolve_weights
from harness.dlib_faces import LANDMARKS_68, check_dlib, file_sha256, model_path, shape_points
from harness.face_detectors import resolve_detector
from harness.head_pose import angle_delta, head_pose, nme
from scorers.base import Metric, Scorer
from scorers.identity import face_pair

LOST_NME = 1.0        # nme is clipped here; a lost face scores it
LOST_ANGLE = 180.0    # the largest angle difference


def landmark_scores(ref_lm: np.ndarray, ref_shape: tuple[int, int], out_lm: np.ndarray,
                    out_shape: tuple[int, int]) -> dict[str, float]:
    """nme, yaw, pitch, roll of output landmarks against reference ones ((68, 2) each, their images' pixels)."""
    scale = np.array([ref_shape[1] / out_shape[1], ref_shape[0] / out_shape[0]])
    out_lm = np.asarray(out_lm, dtype=np.float64) * scale
    ry, rp, rr = head_pose(ref_lm, ref_shape)
    oy, op, orr = head_pose(out_lm, ref_shape)
    return {"nme": min(nme(ref_lm, out_lm), LOST_NME), "yaw": angle_delta(ry, oy),
            "pitch": angle_delta(rp, op), "roll": angle_delta(rr, orr)}


class FacePoseScorer(Scorer):
    name = "face_pose"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    metrics = {"nme": Metric("lower", range=(0.0, LOST_NME)),
               "yaw": Metric("lower", range=(0.0, LOST_ANGLE), unit="deg"),
               "pitch": Metric("lower", range=(0.0, LOST_ANGLE), unit="deg"),
               "roll": Metric("lower", range=(0.0, LOST_ANGLE), unit="deg"),
               "detected": Metric("higher", range=(0.0, 1.0))}
    weights = (f"face_recognition_models/models/{LANDMARKS_68} (installed)",)

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        detector: str = "auto"          # harness.face_detectors name; auto: SCRFD if present, else dlib-hog
        weights: str | None = None      # insightface folder (SCRFD); default $EDITBENCH_WEIGHTS/insightface

    folder = None

    def _insightface_dir(self):
        try:
            return resolve_weights("insightface", self.options.weights)
        except WeightsNotFound:
            return None

    def check(self) -> None:
        check_dlib()
        model_path(LANDMARKS_68)
        resolve_detector(self.options.detector, self._insightface_dir())

    def describe(self) -> dict[str, dict]:
        path = model_path(LANDMARKS_68)
        extra = {"backend": "dlib", "model": path.name, "sha256": file_sha256(str(path))}
        return {col: dict(extra) for col in self.columns()}

    def load(self) -> None:
        self.folder = self._insightface_dir()
        self._refs: dict = {}
        self._loaded = True

    def score(self, task, output) -> dict[str, float]:
        if not getattr(self, "_loaded", False):
            self.load()
        out_img = np.asarray(output.image)
        ref_img, ref_face, out_face = face_pair(task, out_img, detector=self.options.detector,
                                                weights_dir=self.folder, cache=self._refs)
        detected = 0.0 if out_face is None else 1.0
        if ref_face is None:
            return {"nme": math.nan, "yaw": math.nan, "pitch": math.nan, "roll": math.nan, "detected": detected}
        if out_face is None:
            return {"nme": LOST_NME, "yaw": LOST_ANGLE, "pitch": LOST_ANGLE, "roll": LOST_ANGLE, "detected": 0.0}
        ref_lm = shape_points(ref_img, ref_face.box, points=68)
        out_lm = shape_points(out_img, out_face.box, points=68)
        return {**landmark_scores(ref_lm, ref_img.shape[:2], out_lm, out_img.shape[:2]), "detected": 1.0}
