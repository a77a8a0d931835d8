"""Crops around a task's mask, at a size where the fill can be judged by eye.

A 300 px hole in a 2560 px photo covers 19 px of a whole-image thumbnail; the report instead shows the
mask's bounding box grown by a margin (half its longer side, at least :data:`MIN_MARGIN` px, so the
seam and the surrounding texture are visible), the same box in every pipeline's output and in the
target, scaled so the crop's longer side is :data:`CROP_PX`. The source crop carries the mask contour.
"""

from __future__ import annotations

import numpy as np

CROP_PX = 256           # longer side of a crop as shown
MIN_MARGIN = 16         # px of context around the mask's bounding box, at least
CONTOUR_RGB = (255, 32, 32)


def crop_box(mask: np.ndarray, *, margin: float = 0.5, min_margin: int = MIN_MARGIN) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), end-exclusive: the bounding box of ``mask`` grown by ``margin`` x its longer side
    (at least ``min_margin`` px) and clipped to the image; the whole image when the mask is empty."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 0, 0, w, h
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    m = max(min_margin, int(round(margin * max(x1 - x0, y1 - y0))))
    return max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)


def draw_contour(image: np.ndarray, mask: np.ndarray, *, thickness: int = 2) -> np.ndarray:
    """``image`` (RGB uint8) with the outline of ``mask`` drawn in :data:`CONTOUR_RGB`."""
    import cv2

    out = np.ascontiguousarray(image.copy())
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, CONTOUR_RGB, thickness)
    return out


def crop(image: np.ndarray, box: tuple[int, int, int, int], *, size: int = CROP_PX) -> np.ndarray:
    """``image[box]`` scaled so its longer side is ``size`` (nearest-neighbour when enlarging, so pixels
    stay visible; area-averaged when shrinking)."""
    import cv2

    x0, y0, x1, y1 = box
    c = image[y0:y1, x0:x1]
    h, w = c.shape[:2]
    s = size / max(h, w)
    hw = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(c, hw, interpolation=cv2.INTER_NEAREST if s > 1 else cv2.INTER_AREA)
