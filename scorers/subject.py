"""Did the mask do its job: the subject kept (``subject``), and the mask against a reference (``mask_iou``).

``subject`` — for background replacement and any task that names what it keeps. Subject region S:

- a task whose mask came from a SAM recipe with ``invert: true``: S = the segmented object, i.e. the
  complement of the stored mask *before* dilation (meta ``mask_recipe``, harness.execution.mask_stage);
- else a task with meta ``subject_box`` [x0, y0, x1, y1]: S = that box;
- else no subject: NaN, no error.

Pixels of S that a ``mask_dilate`` grew the mask into count as changed (a dilation that eats the
subject's edge shows here, while the ``background`` scorer looks only outside the dilated mask). Over S
and all channels, output vs source (uint8; the output resized to the source's grid if needed):

- ``psnr`` = min(10 log10(255^2 / MSE), 100) dB, 100 when identical     (higher is better)
- ``ssim`` = mean of scikit-image's SSIM map (7x7 uniform window, data_range 255, channel-averaged) over
             the pixels of S whose window lies wholly in S, its 3-pixel image border excluded
                                                                         (higher is better)

``mask_iou`` — for a SAM-recipe task with a ``reference`` mask (same polarity as the task mask, white =
regenerate): ``iou`` = |A ∩ B| / |A ∪ B| of the stored mask A and the reference B (1 when both are
empty), the quality of the mask generator itself (so SAM ViT-B vs ViT-H compare on quality as well
as latency). The same value for every pipeline of a task.
"""

from __future__ import annotations

import math

import numpy as np

from harness.core.imageio import load_image, load_mask, load_mask_file
from scorers.background import PSNR_CEILING, region_errors, region_ssim, window_clear
from scorers.base import Metric, Scorer
from scorers.regions import aligned_output
from tasks.schema import Task


def subject_region(task: Task, shape: tuple[int, int]) -> np.ndarray | None:
    """Bool (H, W) subject region of ``task`` (module docstring), or None when it names none."""
    recipe = task.meta.get("mask_recipe")
    if isinstance(recipe, dict) and recipe.get("invert") and task.mask is not None:
        return ~load_mask(task.mask, shape=shape, where=f"task {task.task_id}")
    box = task.meta.get("subject_box")
    if box is not None:
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        region = np.zeros(shape, dtype=bool)
        region[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
        return region
    return None


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks of one shape; 1.0 when both are empty."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


class SubjectScorer(Scorer):
    name = "subject"
    kinds = frozenset({"inpaint"})
    metrics = {"psnr": Metric("higher", range=(0.0, PSNR_CEILING), unit="dB"),
               "ssim": Metric("higher", range=(-1.0, 1.0))}

    def score(self, task: Task, output) -> dict[str, float]:
        src = load_image(task.image)
        shape = src.shape[:2]
        region = subject_region(task, shape)
        if region is None or not region.any():
            return {"psnr": math.nan, "ssim": math.nan}
        out = aligned_output(np.asarray(output.image), shape)
        clear = region & window_clear(~region)   # SSIM windows wholly inside S: the new background is not judged
        return {"psnr": region_errors(out, src, region)["psnr"],
                "ssim": region_ssim(out, src, clear) if clear.any() else math.nan}


class MaskIouScorer(Scorer):
    name = "mask_iou"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    metrics = {"iou": Metric("higher", range=(0.0, 1.0))}

    def score(self, task: Task, output) -> dict[str, float]:
        recipe = task.meta.get("mask_recipe")
        ref = recipe.get("reference") if isinstance(recipe, dict) else None
        if ref is None or not isinstance(task.mask, str):
            return {"iou": math.nan}
        a = load_mask_file(task.mask)
        b = load_mask_file(ref)
        if a.shape != b.shape:
            raise ValueError(f"reference mask {ref} is {b.shape[1]}x{b.shape[0]} but the task's mask is "
                             f"{a.shape[1]}x{a.shape[0]}")
        return {"iou": mask_iou(a, b)}
