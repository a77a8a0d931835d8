"""Hand pose adherence: OpenPose's 21 hand keypoints of the output against the source's (harness/hand_pose.py).

Applies to tasks whose meta holds ``hand_box`` ([x0, y0, x1, y1] source pixels, written by the
``hand-regen`` builder). The keypoints are estimated on the source and on the output (scaled to the
source grid) around that box. Needs ``$EDITBENCH_WEIGHTS/openpose/hand_pose_model.pth`` (option
``weights``: the folder).

- ``pck`` (higher, [0, 1]): share of the source's found keypoints whose output keypoint lies within
  PCK_ALPHA = 0.2 x max(box width, box height) (PCK normalised by the hand box); a keypoint missing in
  the output counts as a miss;
- ``detected`` (higher): 1 if the model found at least one keypoint in the output around the box.

No ``hand_box`` or no keypoint found in the source gives pck = NaN. Tested with random weights (the
loading path and the formula); no trained hand weights were available, so the pck of real hands is
not measured.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.core.imageio import load_image
from harness.core.weights import resolve_weights
from harness.hand_pose import HAND_WEIGHTS, HandPoseEstimator
from scorers.base import Metric, Scorer

PCK_ALPHA = 0.2


def hand_pck(reference: np.ndarray, predicted: np.ndarray, box) -> float:
    """PCK of (21, 2) ``predicted`` against ``reference`` keypoints (NaN = missing), threshold
    PCK_ALPHA x the long side of ``box``. NaN when the reference has no keypoint."""
    ref, pred = np.asarray(reference, float), np.asarray(predicted, float)
    vis = np.isfinite(ref).all(1)
    if not vis.any():
        return math.nan
    d = np.linalg.norm(ref[vis] - pred[vis], axis=1)
    thr = PCK_ALPHA * max(box[2] - box[0], box[3] - box[1])
    return float(np.mean(np.where(np.isfinite(d), d <= thr, False)))


class HandPoseScorer(Scorer):
    name = "hand_pose"
    kinds = frozenset({"inpaint"})
    metrics = {"pck": Metric("higher", range=(0.0, 1.0)), "detected": Metric("higher", range=(0.0, 1.0))}
    weights = (f"openpose/{HAND_WEIGHTS}",)

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        weights: str | None = None      # folder; default $EDITBENCH_WEIGHTS/openpose
        scales: list[float] = [0.5, 1.0, 1.5, 2.0]   # OpenPose's multi-scale search (x boxsize)
        boxsize: int = 368                           # px the hand crop is resized to at scale 1

    estimator = None

    def weights_dir(self):
        return resolve_weights("openpose", self.options.weights, required=(HAND_WEIGHTS,))

    def check(self) -> None:
        self.weights_dir()

    def load(self) -> None:
        self.estimator = HandPoseEstimator(self.weights_dir(), scales=self.options.scales, boxsize=self.options.boxsize)

    def score(self, task, output) -> dict[str, float]:
        if self.estimator is None:
            self.load()
        box = (task.params or {}).get("hand_box")
        if box is None:
            return {"pck": math.nan, "detected": math.nan}
        src = load_image(task.image)
        out = np.asarray(output.image)
        ref = self.estimator(src, box)
        sy, sx = src.shape[0] / out.shape[0], src.shape[1] / out.shape[1]
        out_box = (box[0] / sx, box[1] / sy, box[2] / sx, box[3] / sy)
        pred = self.estimator(out, out_box) * [sx, sy]
        detected = float(np.isfinite(pred).all(1).any())
        return {"pck": hand_pck(ref, pred, box), "detected": detected}
