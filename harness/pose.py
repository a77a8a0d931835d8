"""OpenPose body keypoints (controlnet_aux) and OpenPose-style stick-figure rendering.

Shared by the pose scorer and suite builders that need pose control images. Uses controlnet_aux's
low-level body estimator (``controlnet_aux.open_pose.body.Body``), which keeps pixel coordinates
and heatmap peak scores (controlnet_aux's ``OpenposeDetector`` normalises coordinates and drops the
scores).

Weights: a folder holding ``body_pose_model.pth`` (controlnet_aux's / lllyasviel/Annotators
layout, which also has ``hand_pose_model.pth`` and ``facenet.pth``; only the body model is read).

Keypoints are in OpenPose-18 (COCO-18) order, see :data:`OPENPOSE18`. A :class:`Person` holds an
(18, 3) float array of [x, y, score] in pixels of the image given; a missing keypoint has NaN x/y
and score 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.core.errors import WeightsNotFound
from harness.core.pixels import resolve_device, rgb_to_bgr

OPENPOSE18 = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
BODY_WEIGHTS = "body_pose_model.pth"


@dataclass(frozen=True)
class Person:
    keypoints: np.ndarray  # (18, 3) float: x, y (pixels; NaN if missing), score (0 if missing)
    score: float = 0.0     # OpenPose's total score of the person (sum of part and limb scores)

    @property
    def visible(self) -> np.ndarray:
        """(18,) bool: keypoints that were found."""
        return np.isfinite(self.keypoints[:, 0]) & np.isfinite(self.keypoints[:, 1])

    def box(self) -> tuple[float, float, float, float] | None:
        """Tight box (x0, y0, x1, y1) of the visible keypoints; None when none is visible."""
        v = self.visible
        if not v.any():
            return None
        xy = self.keypoints[v, :2]
        return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())

    def box_area(self) -> float:
        b = self.box()
        return 0.0 if b is None else (b[2] - b[0]) * (b[3] - b[1])


def people_from_openpose(candidate: np.ndarray, subset: np.ndarray) -> list[Person]:
    """Convert ``Body.__call__``'s (candidate, subset) to people, highest total score first.

    ``candidate`` rows are (x, y, peak score, id); ``subset`` rows hold 18 candidate indices (-1 =
    missing), then the total score and the number of parts.
    """
    people = []
    for row in np.asarray(subset).reshape(-1, 20):
        kp = np.full((18, 3), np.nan, dtype=np.float64)
        kp[:, 2] = 0.0
        for j, idx in enumerate(row[:18].astype(int)):
            if idx >= 0:
                kp[j] = candidate[idx][:3]
        people.append(Person(keypoints=kp, score=float(row[18])))
    return sorted(people, key=lambda p: -p.score)


def _import_controlnet_aux_body():
    """controlnet_aux's package import warns about optional extras it does not need here; silence that."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose import body, util
    return body, util


class BodyPoseEstimator:
    """OpenPose body estimator. ``__call__(image RGB uint8 (H, W, 3)) -> list[Person]`` in pixels.

    ``weights_dir`` holds ``body_pose_model.pth``; ``device`` defaults to CUDA when available.
    """

    def __init__(self, weights_dir: str | Path, *, device: str | None = None):
        Body = _import_controlnet_aux_body()[0].Body
        path = Path(weights_dir) / BODY_WEIGHTS
        if not path.is_file():
            raise WeightsNotFound(f"OpenPose body weights not found: expected {path}.")
        self.device = resolve_device(device)
        self.body = Body(str(path)).to(self.device)

    def __call__(self, image: np.ndarray) -> list[Person]:
        import torch

        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"pose estimation needs an RGB uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
        bgr = rgb_to_bgr(image)  # controlnet_aux's Body expects OpenCV's BGR order
        with torch.no_grad():
            candidate, subset = self.body(bgr)
        return people_from_openpose(np.asarray(candidate), np.asarray(subset))


def render_pose(shape: tuple[int, int], people: list[Person]) -> np.ndarray:
    """OpenPose-style stick figures of ``people`` on black, RGB uint8 (H, W, 3) (a ControlNet pose image).

    Uses controlnet_aux's ``draw_bodypose`` (limb colours of the OpenPose ControlNet). Keypoints
    are in pixels of an image of ``shape`` (H, W); missing ones are skipped with their limbs.
    """
    body, util = _import_controlnet_aux_body()
    Keypoint, draw_bodypose = body.Keypoint, util.draw_bodypose

    h, w = shape
    canvas = np.zeros((h, w, 3), dtype=np.uint8)
    for p in people:
        kps = [
            Keypoint(x=float(x) / w, y=float(y) / h, score=float(s)) if np.isfinite(x) and np.isfinite(y) else None
            for x, y, s in p.keypoints
        ]
        canvas = draw_bodypose(canvas, kps)
    return canvas
