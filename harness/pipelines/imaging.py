"""Image/mask conversions shared by the image-editing adapters (numpy + OpenCV + PIL only).

Conventions on our side of the adapters: images are RGB uint8 (H, W, 3); masks are bool (H, W) with
1 = regenerate; a *soft* mask is float32 (H, W) in [0, 1] (1 = fully regenerated). Each adapter turns
these into what its outside system wants (diffusers RePaint's 1 = keep, [-1, 1] tensors, BGR for
OpenCV) with the functions below, so that conversions live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from harness.errors import EditbenchError
from harness.imageio import load_image, load_mask

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


def work_size(height: int, width: int, *, long_side: int, multiple: int) -> tuple[int, int]:
    """(H, W) scaled so the long side is ``long_side`` px, each rounded to a multiple of ``multiple``."""
    scale = long_side / max(height, width)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    return h, w


def resize(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image (bicubic) or a float mask (bilinear) to (H, W); no-op when equal."""
    if image.shape[:2] == tuple(hw):
        return image
    import cv2

    interp = cv2.INTER_CUBIC if image.dtype == np.uint8 else cv2.INTER_LINEAR
    out = cv2.resize(image, (hw[1], hw[0]), interpolation=interp)
    return np.clip(out, 0, 1).astype(image.dtype) if image.dtype != np.uint8 else out


def paste_back(generated: np.ndarray, original: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """Composite ``generated`` over ``original`` with the soft mask: where ``soft`` is 0 the result is
    ``original`` exactly, where it is 1 it is ``generated``. All arrays at the same (H, W)."""
    a = soft[..., None]
    out = a * generated.astype(np.float32) + (1.0 - a) * original.astype(np.float32)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    keep = soft == 0
    out[keep] = original[keep]
    return out


# ---- conversions to the outside systems' conventions -----------------------------------------------

def to_pil(image: np.ndarray):
    """RGB uint8 (H, W, 3) -> PIL RGB; float mask in [0, 1] (H, W) -> PIL "L" (255 = regenerate)."""
    from PIL import Image

    if image.ndim == 2:
        return Image.fromarray(np.clip(np.rint(image.astype(np.float32) * 255), 0, 255).astype(np.uint8), mode="L")
    return Image.fromarray(np.asarray(image, dtype=np.uint8), mode="RGB")


def from_pil(img) -> np.ndarray:
    """PIL image -> RGB uint8 (H, W, 3)."""
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def float_to_uint8(x: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] (H, W, 3) -> uint8 with rounding (NaN stays detectable: raises)."""
    if not np.isfinite(x).all():
        raise ValueError("pipeline produced non-finite pixel values (NaN or inf)")
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def rgb_to_bgr(image: np.ndarray) -> np.ndarray:
    """RGB <-> BGR channel flip for OpenCV (its own inverse)."""
    return np.ascontiguousarray(image[..., ::-1])


bgr_to_rgb = rgb_to_bgr


def keep_mask_for_repaint(mask_soft: np.ndarray) -> np.ndarray:
    """Our mask (1 = regenerate) -> diffusers RePaint's mask (1 = keep): ``1 - mask``."""
    return 1.0 - mask_soft.astype(np.float32)
