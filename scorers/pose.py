"""Pose adherence: OpenPose body keypoints of the output against the source's (harness/pose.py).

Reference pose: ``task.control["keypoints"]`` when the task carries keypoints (an (18, 3) list of
[x, y, score] in source pixels, OpenPose-18 order, or a list of such people), else the pose
estimated on ``task.image``. The reference person is the one with the largest keypoint box. The
output's keypoints are scaled to the source grid (x * W_src / W_out, y * H_src / H_out).

Metrics, over the COCO-17 keypoints (OpenPose-18 minus the neck, :data:`COCO_FROM_OPENPOSE`):

- ``oks`` (higher): COCO object keypoint similarity, as pycocotools' ``COCOeval.computeOks``:
  OKS = (1 / |V|) sum_{i in V} exp(-d_i^2 / (2 s k_i^2)), k_i = 2 sigma_i (COCO sigmas), s = the
  reference person's area, V = keypoints visible in the reference. Area s is the reference's
  keypoint box area (w * h) where COCO uses the segment area. The output person reported is the
  one with the highest OKS.
- ``pck`` (higher): share of i in V with d_i <= 0.1 * max(box width, box height) of the reference.
- ``detected`` (higher): 1 if the estimator found at least one person in the output, else 0.

Missing values: a reference keypoint that is missing is left out of V; an output keypoint that is
missing counts as a miss (term 0 in OKS, not within the PCK threshold); no person in the output
gives oks = pck = 0 and detected = 0. No reference person (or fewer than one visible keypoint)
gives oks = pck = NaN (nothing to compare with); ``detected`` is still reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.core.weights import resolve_weights
from harness.pose import BodyPoseEstimator
from scorers.base import Metric, Scorer
from scorers.regions import source_image, source_shape
from tasks.schema import Task

# pycocotools COCOeval: sigmas of nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles.
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62,
                        1.07, 1.07, .87, .87, .89, .89]) / 10.0
# COCO-17 keypoint i is OpenPose-18 keypoint COCO_FROM_OPENPOSE[i] (OpenPose's neck, index 1, has no COCO twin).
COCO_FROM_OPENPOSE = np.array([0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10])
PCK_ALPHA = 0.1
SOURCE_CACHE = 256  # source poses kept per scorer instance


def to_coco17(keypoints: np.ndarray) -> np.ndarray:
    """(18, 3) OpenPose-18 [x, y, score] -> (17, 3) in COCO-17 order."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape != (18, 3):
        raise ValueError(f"expected OpenPose-18 keypoints of shape (18, 3), got {keypoints.shape}")
    return keypoints[COCO_FROM_OPENPOSE]


def _visible(kp: np.ndarray) -> np.ndarray:
    return np.isfinite(kp[:, 0]) & np.isfinite(kp[:, 1])


def keypoint_box(kp: np.ndarray) -> tuple[float, float, float, float] | None:
    v = _visible(kp)
    if not v.any():
        return None
    return float(kp[v, 0].min()), float(kp[v, 1].min()), float(kp[v, 0].max()), float(kp[v, 1].max())


def oks(reference: np.ndarray, predicted: np.ndarray, *, area: float | None = None,
        sigmas: np.ndarray = COCO_SIGMAS) -> float:
    """COCO object keypoint similarity of ``predicted`` to ``reference`` ((K, 2+) arrays, pixels).

    Follows pycocotools' ``computeOks``: e_i = d_i^2 / (2 * area * (2 sigma_i)^2) (pycocotools
    adds machine epsilon to the area), mean of exp(-e_i) over the reference's visible keypoints.
    ``area`` defaults to the reference's keypoint box area. Missing predicted keypoints (NaN)
    contribute 0. NaN when the reference has no visible keypoint.
    """
    ref = np.asarray(reference, dtype=np.float64)
    pred = np.asarray(predicted, dtype=np.float64)
    vis = _visible(ref)
    if not vis.any():
        return math.nan
    if area is None:
        x0, y0, x1, y1 = keypoint_box(ref)
        area = (x1 - x0) * (y1 - y0)
    var = (2.0 * sigmas) ** 2
    d2 = (pred[:, 0] - ref[:, 0]) ** 2 + (pred[:, 1] - ref[:, 1]) ** 2
    e = d2 / var / (area + np.spacing(1)) / 2.0
    terms = np.where(np.isfinite(e), np.exp(-np.where(np.isfinite(e), e, 0.0)), 0.0)
    return float(terms[vis].mean())


def pck(reference: np.ndarray, predicted: np.ndarray, *, alpha: float = PCK_ALPHA) -> float:
    """Share of the reference's visible keypoints predicted within alpha * max(box w, box h)."""
    ref = np.asarray(reference, dtype=np.float64)
    pred = np.asarray(predicted, dtype=np.float64)
    vis = _visible(ref)
    if not vis.any():
        return math.nan
    x0, y0, x1, y1 = keypoint_box(ref)
    thr = alpha * max(x1 - x0, y1 - y0)
    d = np.hypot(pred[:, 0] - ref[:, 0], pred[:, 1] - ref[:, 1])
    hit = np.isfinite(d) & (d <= thr)
    return float(hit[vis].mean())


def pose_metrics(reference: np.ndarray | None, candidates: list[np.ndarray]) -> dict[str, float]:
    """Metrics of one reference person ((18, 3) OpenPose-18, or None) against the output's people."""
    detected = 1.0 if candidates else 0.0
    if reference is None or not _visible(np.asarray(reference)).any():
        return {"oks": math.nan, "pck": math.nan, "detected": detected}
    ref = to_coco17(reference)
    if not candidates:
        return {"oks": 0.0, "pck": 0.0, "detected": 0.0}
    scored = [(oks(ref, to_coco17(c)), pck(ref, to_coco17(c))) for c in candidates]
    best_oks, best_pck = max(scored, key=lambda t: t[0])
    return {"oks": best_oks, "pck": best_pck, "detected": detected}


def reference_keypoints(control) -> list[np.ndarray] | None:
    """People given in ``task.control`` as {"keypoints": (18, 3) or (P, 18, 3)}, else None."""
    if not isinstance(control, dict) or "keypoints" not in control:
        return None
    arr = np.asarray(control["keypoints"], dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (18, 3):
        raise ValueError(f"task control keypoints must have shape (18, 3) or (P, 18, 3), got {arr.shape}")
    return list(arr)


def largest_person(people: list[np.ndarray]) -> np.ndarray | None:
    best, best_area = None, -1.0
    for kp in people:
        b = keypoint_box(kp)
        if b is not None and (b[2] - b[0]) * (b[3] - b[1]) > best_area:
            best, best_area = kp, (b[2] - b[0]) * (b[3] - b[1])
    return best


class PoseScorer(Scorer):
    name = "pose"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    metrics = {"oks": Metric("higher", range=(0.0, 1.0)), "pck": Metric("higher", range=(0.0, 1.0)),
               "detected": Metric("higher", range=(0.0, 1.0))}
    weights = ("openpose/body_pose_model.pth",)

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        weights: str | None = None   # folder with body_pose_model.pth; default $EDITBENCH_WEIGHTS/openpose
        device: str | None = None    # default: cuda when available, else cpu

    estimator: Callable | None = None

    def __init__(self, **options):
        super().__init__(**options)
        self._cache: dict = {}   # (source path, mtime) -> (reference people, source (H, W)), oldest first

    def weights_dir(self):
        return resolve_weights("openpose", self.options.weights, required=("body_pose_model.pth",))

    def check(self) -> None:
        self.weights_dir()

    def load(self) -> None:
        self.estimator = BodyPoseEstimator(self.weights_dir(), device=self.options.device)

    def score(self, task: Task, output) -> dict[str, float]:
        if self.estimator is None:
            self.load()
        people = reference_keypoints(task.control)
        src_shape = None
        if people is None:
            people, src_shape = self._source_pose(task)
        reference = largest_person(people)
        out = np.asarray(output.image)
        found = [p.keypoints.copy() for p in self.estimator(out)]
        if found and src_shape is None and task.image is not None:
            src_shape = source_shape(task)
        if src_shape is not None and out.shape[:2] != src_shape:
            sy, sx = src_shape[0] / out.shape[0], src_shape[1] / out.shape[1]
            for kp in found:
                kp[:, 0] *= sx
                kp[:, 1] *= sy
        return pose_metrics(reference, found)

    def _source_pose(self, task: Task) -> tuple[list[np.ndarray], tuple[int, int]]:
        """Pose of ``task.image``, cached per file (every pipeline and seed of a task shares its source)."""
        from pathlib import Path

        path = Path(task.image or "")
        if task.image is None or not path.is_file():
            source_image(task)  # raises the error naming the missing image
        key = (str(path), path.stat().st_mtime_ns)
        if key not in self._cache:
            src = source_image(task)
            self._cache[key] = ([p.keypoints for p in self.estimator(src)], src.shape[:2])
            while len(self._cache) > SOURCE_CACHE:
                self._cache.pop(next(iter(self._cache)))
        return self._cache[key]
