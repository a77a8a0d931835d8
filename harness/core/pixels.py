"""What a task's pixels are, below both the pipelines and the scorers that need them.

One place builds a mask-based task's inputs (the image or the extended outpaint canvas, the mask after
the applied dilation and feather), flips channels for OpenCV-order libraries, and resolves a torch
device: adapters (harness.pipelines) edit these pixels and scorers (scorers.regions) compare against the
same ones, so the two can never disagree about a canvas, a mask or a device.

Conventions: images are RGB uint8 (H, W, 3); masks are bool (H, W) with 1 = regenerate; a *soft* mask
is float32 (H, W) in [0, 1] (1 = fully regenerated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, load_mask

OutpaintFill = Literal["edge", "reflect", "gray"]


@dataclass
class EditInputs:
    """A mask-based task prepared for an adapter, at canvas resolution.

    ``canvas``: RGB uint8 (H, W, 3) — the image, or the extended canvas for outpainting (new area
    pre-filled). ``mask``: bool (H, W) after dilation, 1 = regenerate. ``soft``: float32 (H, W) in
    [0, 1], ``mask`` feathered outwards (equals ``mask`` when feather is 0); paste-back blends with it.
    """

    canvas: np.ndarray
    mask: np.ndarray
    soft: np.ndarray


def dilate_mask(mask: np.ndarray, px: int) -> np.ndarray:
    """Grow a bool mask by ``px`` pixels (elliptical structuring element of diameter 2*px+1)."""
    if px <= 0:
        return mask.copy()
    import cv2

    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), k) > 0


def feather_mask(mask: np.ndarray, px: int) -> np.ndarray:
    """Soft float32 mask in [0, 1]: 1 on ``mask``, decaying to 0 over about ``px`` pixels outside it.

    The blur is Gaussian (sigma = px / 2), and the result is max(blur, mask) so the hole itself stays
    fully regenerated; the feather only widens the transition outwards.
    """
    m = mask.astype(np.float32)
    if px <= 0:
        return m
    import cv2

    blur = cv2.GaussianBlur(m, (0, 0), sigmaX=px / 2.0, borderType=cv2.BORDER_REPLICATE)
    soft = np.maximum(blur, m)
    soft[soft < 1.0 / 255.0] = 0.0          # exact zeros far away: paste-back keeps those pixels bit-exact
    return soft


def outpaint_pads(params: dict, *, where: str) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) pixels from ``params["outpaint"]`` ({left, right, top, bottom})."""
    spec = params.get("outpaint")
    if not isinstance(spec, dict):
        raise EditbenchError(f"{where}: outpaint tasks need params.outpaint = {{left, right, top, bottom}} in pixels.")
    unknown = set(spec) - {"left", "right", "top", "bottom"}
    if unknown:
        raise EditbenchError(f"{where}: params.outpaint has unknown keys {sorted(unknown)}; "
                             "use left, right, top, bottom.")
    pads = tuple(int(spec.get(k, 0)) for k in ("left", "right", "top", "bottom"))
    if min(pads) < 0 or max(pads) == 0:
        raise EditbenchError(f"{where}: params.outpaint must be non-negative and extend at least one side, got {spec}.")
    return pads  # type: ignore[return-value]


def extend_canvas(image: np.ndarray, pads: tuple[int, int, int, int], *,
                  fill: OutpaintFill = "edge") -> tuple[np.ndarray, np.ndarray]:
    """Outpainting canvas: ``image`` padded by (left, right, top, bottom) px, and the bool mask of the
    new area (1 = regenerate). The new area is pre-filled by replicating the border ("edge"),
    mirroring it ("reflect") or mid-gray ("gray"), which gives the model a colour prior to work from.
    """
    import cv2

    left, right, top, bottom = pads
    border = {"edge": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101, "gray": cv2.BORDER_CONSTANT}[fill]
    canvas = cv2.copyMakeBorder(image, top, bottom, left, right, border, value=(127, 127, 127))
    mask = np.ones(canvas.shape[:2], dtype=bool)
    mask[top:top + image.shape[0], left:left + image.shape[1]] = False
    return canvas, mask


def prepare_edit(task, *, dilate: int = 0, feather: int = 0, fill: OutpaintFill = "edge") -> EditInputs:
    """Load a mask-based task (inpaint / outpaint / face_regen) into :class:`EditInputs`.

    Outpaint tasks take their canvas from ``params.outpaint``; a task mask, if also given, is in the
    original image's coordinates and is added (OR) to the new area.
    """
    where = f"task {task.task_id}"
    if not task.image:
        raise EditbenchError(f"{where} has no image.")
    image = load_image(task.image)
    if task.kind == "outpaint":
        pads = outpaint_pads(task.params, where=where)
        canvas, mask = extend_canvas(image, pads, fill=fill)
        if task.mask is not None:
            inner = load_mask(task.mask, shape=image.shape[:2], where=where)
            left, _, top, _ = pads
            mask[top:top + image.shape[0], left:left + image.shape[1]] |= inner
    else:
        canvas = image
        mask = load_mask(task.mask, shape=image.shape[:2], where=where)
    mask = dilate_mask(mask, dilate)
    return EditInputs(canvas=canvas, mask=mask, soft=feather_mask(mask, feather))


def rgb_to_bgr(image: np.ndarray) -> np.ndarray:
    """RGB <-> BGR channel flip for OpenCV (its own inverse)."""
    return np.ascontiguousarray(image[..., ::-1])


bgr_to_rgb = rgb_to_bgr


def resolve_device(device: str | None = "auto") -> str:
    """"auto" (or None) -> "cuda" when a GPU is visible, else "cpu"; anything else is checked and returned."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EditbenchError(f"device {device!r} was asked for but no CUDA device is visible; use auto or cpu.")
    return device
