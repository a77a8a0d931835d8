"""Classical floors from OpenCV: ``cv2-telea`` (Telea 2004, fast marching) and ``cv2-ns``
(Bertalmio et al. 2001, Navier-Stokes). No weights; every leaderboard gets a reference row.

Conversions: OpenCV wants BGR uint8 and an 8-bit mask with non-zero = inpaint (our polarity).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from harness.pipelines.base import StageTimer
from harness.pipelines.editing import EditOptions, EditPipeline
from harness.pipelines.imaging import EditInputs, bgr_to_rgb, resize, rgb_to_bgr, work_size
from tasks.schema import Task


class ClassicalOptions(EditOptions):
    radius: float = Field(3.0, gt=0)   # neighbourhood radius in px considered around each inpainted pixel


def work_inputs(inputs: EditInputs, resolution: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Canvas and bool mask at the working resolution (native size when ``resolution`` is None)."""
    if resolution is None:
        return inputs.canvas, inputs.mask
    hw = work_size(*inputs.canvas.shape[:2], long_side=resolution, multiple=1)
    return resize(inputs.canvas, hw), resize(inputs.mask.astype(np.float32), hw) > 0.5


def cv2_inpaint(image: np.ndarray, mask: np.ndarray, *, radius: float, method: str) -> np.ndarray:
    """Inpaint RGB uint8 (H, W, 3) where bool ``mask`` (H, W) is True; ``method`` "telea" or "ns"."""
    import cv2

    flag = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]
    out = cv2.inpaint(rgb_to_bgr(image), mask.astype(np.uint8) * 255, float(radius), flag)
    return bgr_to_rgb(out)


class _OpenCV(EditPipeline):
    method: str
    Options = ClassicalOptions

    def edit(self, inputs: EditInputs, task: Task, seed: int, timer: StageTimer) -> np.ndarray:
        image, mask = work_inputs(inputs, self.options.resolution)
        with timer.stage("inpaint"):
            out = cv2_inpaint(image, mask, radius=self.options.radius, method=self.method)
        return resize(out, inputs.canvas.shape[:2])


class Cv2Telea(_OpenCV):
    name = "cv2-telea"
    method = "telea"


class Cv2NS(_OpenCV):
    name = "cv2-ns"
    method = "ns"
