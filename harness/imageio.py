"""Reading task images and masks, with errors that name the file.

Images are RGB uint8 arrays of shape (H, W, 3). Masks are bool arrays of shape (H, W) with the
contract's polarity: True (1) = regenerate, False (0) = keep. A mask is a path (grayscale image,
thresholded at 127) or an inline recipe:

- ``{"box": [x0, y0, x1, y1]}``  pixel box, end-exclusive
- ``{"ellipse": [cx, cy, rx, ry]}``  filled ellipse
- ``{"full": true}``  the whole image
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from harness.errors import EditbenchError

# Decoded inputs handed over by the runner's prefetch (read in another process while the previous job
# ran, shipped through Ray's object store), per thread: a concurrent actor runs several jobs at once.
# ``_PREFETCHED.arrays`` keys: ("image", path) (RGB) and ("gray", path) (mask files).
_PREFETCHED = threading.local()

IMAGE_FIELDS = ("image", "control", "reference", "target")


def prefetch_task_inputs(task) -> dict[tuple[str, str], np.ndarray]:
    """Decode every file a task references. Unreadable files are left out: the pipeline then reads
    them itself and fails with the proper message in its own row."""
    arrays: dict[tuple[str, str], np.ndarray] = {}
    for field in IMAGE_FIELDS:
        v = getattr(task, field, None)
        if isinstance(v, str):
            try:
                arrays[("image", v)] = load_image(v)
            except EditbenchError:
                pass
    if isinstance(task.mask, str):
        try:
            arrays[("gray", task.mask)] = load_gray(task.mask)
        except EditbenchError:
            pass
    return arrays


@contextmanager
def prefetched(arrays: dict[tuple[str, str], np.ndarray] | None) -> Iterator[None]:
    """Serve ``load_image``/``load_mask_file`` from ``arrays`` inside the block."""
    _PREFETCHED.arrays = dict(arrays or {})
    try:
        yield
    finally:
        _PREFETCHED.arrays = {}


def _read(path: str | Path, *, mode: str, key: str, what: str) -> np.ndarray:
    """Decode an image file with PIL in ``mode`` ("RGB" or "L") to uint8; prefetched arrays first."""
    from PIL import Image, UnidentifiedImageError

    cached = getattr(_PREFETCHED, "arrays", {}).get((key, str(path)))
    if cached is not None:
        return cached.copy()
    path = Path(path)
    if not path.is_file():
        raise EditbenchError(f"{what} {path} does not exist.")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise EditbenchError(f"{what} {path} cannot be read as an image ({type(e).__name__}).") from None


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3)."""
    return _read(path, mode="RGB", key="image", what="image")


def load_gray(path: str | Path) -> np.ndarray:
    """Read an image file as 8-bit gray (H, W) uint8 (used for mask files)."""
    return _read(path, mode="L", key="gray", what="mask")


def load_mask_file(path: str | Path, *, threshold: int = 127) -> np.ndarray:
    """Read a mask image as bool (H, W): pixels whose gray value exceeds ``threshold`` are True."""
    return load_gray(path) > threshold


def mask_from_recipe(recipe: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
    """Build a bool mask of ``shape`` (H, W) from an inline recipe (see module docstring)."""
    h, w = shape
    m = np.zeros((h, w), dtype=bool)
    if recipe.get("full"):
        m[:] = True
    elif "box" in recipe:
        x0, y0, x1, y1 = (int(round(v)) for v in recipe["box"])
        m[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
    elif "ellipse" in recipe:
        cx, cy, rx, ry = (float(v) for v in recipe["ellipse"])
        yy, xx = np.mgrid[0:h, 0:w]
        m = ((xx - cx) / max(rx, 1e-6)) ** 2 + ((yy - cy) / max(ry, 1e-6)) ** 2 <= 1.0
    else:
        raise EditbenchError(f"mask recipe {recipe} is not one of box, ellipse, full.")
    return m


def load_mask(mask: str | dict | None, *, shape: tuple[int, int], where: str = "task") -> np.ndarray:
    """A task's mask as bool (H, W), checked against the image ``shape``."""
    if mask is None:
        raise EditbenchError(f"{where} has no mask.")
    m = mask_from_recipe(mask, shape) if isinstance(mask, dict) else load_mask_file(mask)
    if m.shape != tuple(shape):
        raise EditbenchError(f"mask of {where} is {m.shape[1]}x{m.shape[0]} but its image is {shape[1]}x{shape[0]}.")
    return m
