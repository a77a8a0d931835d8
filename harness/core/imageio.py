"""Reading task images and masks, with errors that name the file.

Images are RGB uint8 arrays of shape (H, W, 3). Masks are bool arrays of shape (H, W) with the
contract's polarity: True (1) = regenerate, False (0) = keep. A mask is a path (grayscale image,
thresholded at 127) or an inline recipe:

- ``{"box": [x0, y0, x1, y1]}``  pixel box, end-exclusive
- ``{"ellipse": [cx, cy, rx, ry]}``  filled ellipse
- ``{"full": true}``  the whole image

Every image is checked against :func:`max_pixels` (width x height; default :data:`DEFAULT_MAX_PIXELS`,
raised with ``--max-pixels`` / the run spec's ``max_pixels``, which set ``$EDITBENCH_MAX_PIXELS``) from
its header, before any pixel is decoded; a larger image, or a decompression bomb, is one
:class:`ImageTooLarge` sentence.
"""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from harness.core.errors import EditbenchError

# Decoded inputs handed over by the runner's prefetch (read in another process while the previous job
# ran, shipped through Ray's object store), per thread: a concurrent actor runs several jobs at once.
# ``_PREFETCHED.arrays`` keys: ("image", path) (RGB) and ("gray", path) (mask files).
_PREFETCHED = threading.local()

IMAGE_FIELDS = ("image", "control", "reference", "target")
DEFAULT_MAX_PIXELS = 50_000_000   # 50 megapixels, e.g. 8660 x 5773; decoded RGB that is 150 MB
MAX_PIXELS_ENV = "EDITBENCH_MAX_PIXELS"
_ELLIPSE_ROWS = 256               # rows of an ellipse mask computed at once (bounds the float temporaries)


class ImageTooLarge(EditbenchError):
    """An image whose header announces more pixels than :func:`max_pixels`."""


def max_pixels() -> int:
    """The largest image (width x height) read: ``$EDITBENCH_MAX_PIXELS`` or :data:`DEFAULT_MAX_PIXELS`."""
    v = os.environ.get(MAX_PIXELS_ENV, "")
    try:
        n = int(v) if v else DEFAULT_MAX_PIXELS
    except ValueError:
        raise EditbenchError(f"${MAX_PIXELS_ENV} {v!r} must be a whole number of pixels.") from None
    if n < 1:
        raise EditbenchError(f"${MAX_PIXELS_ENV} {v!r} must be at least 1.")
    return n


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
    limit = max_pixels()
    too_large = (f"{what} {path} has more than {limit} pixels (the limit; raise it with --max-pixels or the run "
                 "spec's max_pixels)")
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit   # only ever raised, never lowered: other readers keep PIL's default
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:    # reads the header only; PIL's own bomb check (2x its global
                w, h = im.size              # limit) may fire first, and ours below is the one that counts
                if w * h > limit:
                    raise ImageTooLarge(f"{too_large}: it is {w}x{h}.")
                return np.asarray(im.convert(mode), dtype=np.uint8).copy()
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"{too_large}.") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        if isinstance(e, EditbenchError):
            raise
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


def _finite(recipe: dict[str, Any], key: str) -> list[float]:
    values = [float(v) for v in recipe[key]]
    if len(values) != 4 or not all(np.isfinite(values)):
        raise EditbenchError(f"mask recipe {recipe}: {key} needs 4 finite numbers.")
    return values


def mask_from_recipe(recipe: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
    """Build a bool mask of ``shape`` (H, W) from an inline recipe (see module docstring)."""
    h, w = shape
    m = np.zeros((h, w), dtype=bool)
    if recipe.get("full"):
        m[:] = True
    elif "box" in recipe:
        x0, y0, x1, y1 = (int(round(v)) for v in _finite(recipe, "box"))
        m[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
    elif "ellipse" in recipe:
        cx, cy, rx, ry = _finite(recipe, "ellipse")
        rx, ry = max(rx, 1e-6), max(ry, 1e-6)
        # Only the ellipse's bounding box, a band of rows at a time: no full-image coordinate grids.
        x0 = min(max(int(np.floor(cx - rx)), 0), w)
        x1 = max(min(int(np.ceil(cx + rx)) + 1, w), x0)
        y0 = min(max(int(np.floor(cy - ry)), 0), h)
        y1 = max(min(int(np.ceil(cy + ry)) + 1, h), y0)
        xx = ((np.arange(x0, x1, dtype=np.float64) - cx) / rx) ** 2
        for r0 in range(y0, y1, _ELLIPSE_ROWS):
            yy = ((np.arange(r0, min(r0 + _ELLIPSE_ROWS, y1), dtype=np.float64) - cy) / ry) ** 2
            m[r0:r0 + len(yy), x0:x1] = xx[None, :] + yy[:, None] <= 1.0
    elif "sam" in recipe:
        raise EditbenchError(f"mask recipe {recipe} asks a mask generator; its mask exists once the run's mask stage "
                             "has stored it (harness.execution.mask_stage).")
    else:
        raise EditbenchError(f"mask recipe {recipe} is not one of box, ellipse, full, sam.")
    return m


def load_mask(mask: str | dict | None, *, shape: tuple[int, int], where: str = "task") -> np.ndarray:
    """A task's mask as bool (H, W), checked against the image ``shape``."""
    if mask is None:
        raise EditbenchError(f"{where} has no mask.")
    m = mask_from_recipe(mask, shape) if isinstance(mask, dict) else load_mask_file(mask)
    if m.shape != tuple(shape):
        raise EditbenchError(f"mask of {where} is {m.shape[1]}x{m.shape[0]} but its image is {shape[1]}x{shape[0]}.")
    return m
