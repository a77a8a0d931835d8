"""Image/mask conversions shared by the image-editing adapters (numpy + OpenCV + PIL only).

Conventions on our side of the adapters: images are RGB uint8 (H, W, 3); masks are bool (H, W) with
1 = regenerate; a *soft* mask is float32 (H, W) in [0, 1] (1 = fully regenerated). Each adapter turns
these into what its outside system wants (diffusers RePaint's 1 = keep, [-1, 1] tensors, BGR for
OpenCV) with the functions below, so that conversions live in one place.
"""

from __future__ import annotations

import numpy as np

from harness.core.pixels import (  # noqa: F401 - the task's pixels live in harness.core.pixels; adapters import them here
    EditInputs,
    OutpaintFill,
    bgr_to_rgb,
    dilate_mask,
    extend_canvas,
    feather_mask,
    outpaint_pads,
    prepare_edit,
    rgb_to_bgr,
)


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


def keep_mask_for_repaint(mask_soft: np.ndarray) -> np.ndarray:
    """Our mask (1 = regenerate) -> diffusers RePaint's mask (1 = keep): ``1 - mask``."""
    return 1.0 - mask_soft.astype(np.float32)
