"""Shared geometry for the image scorers: aligning an output with its source, mask regions, devices.

Conventions (docs/metrics.md, "Common rules"):
- images are RGB uint8 (H, W, 3); masks bool (H, W), True = regenerated;
- the source (``task.image``) and its mask define the comparison grid. An output of another size is
  resized to the source size with PIL bicubic resampling when both aspect ratios agree within 1 %
  (diffusers pipelines round sizes to multiples of 8); otherwise the pixel-aligned metrics cannot be
  defined and :func:`aligned_output` raises ``ValueError`` (the row keeps NaN and the message in
  ``score_error``).
"""

from __future__ import annotations

import numpy as np

from harness.core.imageio import load_image, load_mask
from harness.core.pixels import dilate_mask, outpaint_pads, prepare_edit, resolve_device
from tasks.schema import Task

ASPECT_TOLERANCE = 0.01


def resize_rgb(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image to ``shape`` (H, W) with PIL bicubic resampling."""
    from PIL import Image

    h, w = shape
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), Image.BICUBIC), dtype=np.uint8)


def aligned_output(image: np.ndarray, shape: tuple[int, int], *, what: str = "source") -> np.ndarray:
    """``image`` (RGB uint8) on the (H, W) grid of ``shape``; see the module docstring for the rule."""
    h, w = image.shape[:2]
    H, W = shape
    if (h, w) == (H, W):
        return image
    if abs((w / h) / (W / H) - 1.0) > ASPECT_TOLERANCE:
        raise ValueError(f"output is {w}x{h} but the {what} is {W}x{H}; their aspect ratios differ, "
                         "so pixel-aligned metrics are undefined")
    return resize_rgb(image, shape)


def _outpaint_canvas(task: Task):
    """Outpaint tasks are compared on the extended canvas the adapters build from ``overrides.outpaint``
    (the source placed inside, pre-filled outside) with the new area (OR the task mask) as mask."""
    o = task.overrides
    return prepare_edit(task, dilate=int(o.get("mask_dilate") or 0), fill=o.get("outpaint_fill") or "edge")


def source_image(task: Task) -> np.ndarray:
    """The task's source on the comparison grid (the extended canvas for outpaint tasks)."""
    if task.image is None:
        raise ValueError(f"task {task.task_id} has no source image")
    if task.kind == "outpaint":
        return _outpaint_canvas(task).canvas
    return load_image(task.image)


def source_shape(task: Task) -> tuple[int, int]:
    """(H, W) of the comparison grid: the source image (read from its header), or for outpaint
    tasks the extended canvas."""
    from PIL import Image

    if task.image is None:
        raise ValueError(f"task {task.task_id} has no source image")
    with Image.open(task.image) as im:
        h, w = im.height, im.width
    if task.kind == "outpaint":
        left, right, top, bottom = outpaint_pads(task.params, where=f"task {task.task_id}")
        return h + top + bottom, w + left + right
    return h, w


def task_mask(task: Task, shape: tuple[int, int]) -> np.ndarray | None:
    """The task's mask on a (H, W) grid, or None when the task has no mask (for outpaint tasks: the
    new canvas area, plus the task mask if one is given)."""
    if task.kind == "outpaint":
        mask = _outpaint_canvas(task).mask
        if mask.shape != tuple(shape):
            raise ValueError(f"outpaint mask of task {task.task_id} is {mask.shape}, expected {tuple(shape)}")
        return mask
    if task.mask is None:
        return None

    # The mask the pipeline edited: the task's, grown by the mask_dilate it applied (the scorer's task
    # carries the pipeline's effective options as overrides, harness.execution.worker.effective_task).
    mask = load_mask(task.mask, shape=shape, where=f"task {task.task_id}")
    return dilate_mask(mask, int(task.overrides.get("mask_dilate") or 0))


def target_region(task: Task, output) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(output, target, region) on the target's grid, for the ground-truth metrics: the output aligned to
    ``task.target``, the target, and the region compared (the task's mask, or the whole image when the
    task has none). None when the task has no target or the region is empty."""
    if task.target is None:
        return None
    target = load_image(task.target)
    shape = target.shape[:2]
    out = aligned_output(np.asarray(output.image), shape, what="target")
    mask = task_mask(task, shape)
    region = np.ones(shape, dtype=bool) if mask is None else mask
    return (out, target, region) if region.any() else None


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    """Grow ``mask`` by ``px`` pixels (Euclidean distance <= px)."""
    from scipy.ndimage import distance_transform_edt

    if px <= 0 or not mask.any():
        return mask.copy()
    return distance_transform_edt(~mask) <= px


def auto_px(shape: tuple[int, int], *, fraction: float = 0.01, minimum: int = 3) -> int:
    """A width in pixels that scales with the image: max(minimum, round(fraction * max(H, W)))."""
    return max(minimum, round(fraction * max(shape)))


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1), end-exclusive, of the True pixels; None when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma in [0, 1]: Y = 0.299 R + 0.587 G + 0.114 B, from RGB uint8 (H, W, 3)."""
    x = image.astype(np.float64) / 255.0
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def torch_device(requested: str | None = None) -> str:
    """``requested`` if given (checked), else "cuda" when a GPU is visible, else "cpu" (harness.core.pixels)."""
    return resolve_device(requested)
