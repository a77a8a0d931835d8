"""Face landmark geometry: 300-W normalised mean error and head pose from 68 iBUG landmarks.

- :func:`nme`: mean point-to-point distance of two (68, 2) landmark sets divided by the reference's
  inter-ocular distance (outer eye corners, points 36 and 45: the 300-W convention of Sagonas et al.,
  "300 Faces In-the-Wild Challenge", 2013/2016).
- :func:`head_pose`: yaw, pitch, roll in degrees from six landmarks (nose tip 30, chin 8, outer eye
  corners 36 and 45, mouth corners 48 and 54) and a generic 3-D face model (:data:`FACE_MODEL_3D`, mm),
  by ``cv2.solvePnP`` (iterative, started from a frontal face) with a pinhole camera whose focal length
  is the image's long side and whose centre is the image centre, no distortion. Angles are ``cv2.RQDecomp3x3`` of the rotation:
  pitch about x (positive: face turned down), yaw about y, roll about z (image plane); a frontal face
  is (0, 0, 0).
"""

from __future__ import annotations

import numpy as np

# Generic 3-D face (mm) in camera axes: x right, y down, z away from the camera; the face looks at the camera.
# Points as commonly used with solvePnP (nose tip at the origin); iBUG-68 indices on the left.
PNP_POINTS = (30, 8, 36, 45, 48, 54)
FACE_MODEL_3D = np.array([
    [0.0, 0.0, 0.0],          # 30 nose tip
    [0.0, 330.0, 65.0],       # 8 chin
    [-225.0, -170.0, 135.0],  # 36 outer corner of the eye on the image's left
    [225.0, -170.0, 135.0],   # 45 outer corner of the eye on the image's right
    [-150.0, 150.0, 125.0],   # 48 mouth corner, image left
    [150.0, 150.0, 125.0],    # 54 mouth corner, image right
], dtype=np.float64)


def interocular(landmarks: np.ndarray) -> float:
    """Distance between the outer eye corners (iBUG points 36 and 45) of (68, 2) landmarks."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return float(np.linalg.norm(lm[36] - lm[45]))


def nme(reference: np.ndarray, predicted: np.ndarray) -> float:
    """300-W normalised mean error of ``predicted`` against ``reference`` ((68, 2) pixels each)."""
    ref, pred = np.asarray(reference, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    if ref.shape != (68, 2) or pred.shape != (68, 2):
        raise ValueError(f"nme needs two (68, 2) landmark arrays, got {ref.shape} and {pred.shape}")
    return float(np.linalg.norm(ref - pred, axis=1).mean() / interocular(ref))


def head_pose(landmarks: np.ndarray, shape: tuple[int, int]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of the face with (68, 2) ``landmarks`` in an image of ``shape`` (H, W)."""
    import cv2

    h, w = shape
    f = float(max(h, w))
    camera = np.array([[f, 0, w / 2.0], [0, f, h / 2.0], [0, 0, 1]], dtype=np.float64)
    image_points = np.asarray(landmarks, dtype=np.float64)[list(PNP_POINTS)]
    # Start from a frontal face at the distance its eye span implies (model eye span 450 mm): without a
    # start, the iterative solver sometimes lands on the mirrored solution (roll off by 180 degrees).
    span = max(float(np.linalg.norm(image_points[2] - image_points[3])), 1.0)
    nose = image_points[0]
    z = f * 450.0 / span
    rvec0 = np.zeros((3, 1))
    tvec0 = np.array([[(nose[0] - w / 2.0) * z / f], [(nose[1] - h / 2.0) * z / f], [z]])
    ok, rvec, _ = cv2.solvePnP(FACE_MODEL_3D, image_points, camera, np.zeros(4), rvec0, tvec0,
                               useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return float("nan"), float("nan"), float("nan")
    rot, _ = cv2.Rodrigues(rvec)
    pitch, yaw, roll = cv2.RQDecomp3x3(rot)[0]
    return float(yaw), float(pitch), float(roll)


def angle_delta(a: float, b: float) -> float:
    """|a - b| in degrees, wrapped to [0, 180]."""
    d = abs(a - b) % 360.0
    return float(min(d, 360.0 - d))
