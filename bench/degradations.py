"""A degradation battery: known-bad fills made from a good one, to check which way each metric moves.

Every function takes the good image ``good`` (RGB uint8 (H, W, 3): a ground truth, or a plausible fill)
and the bool mask (H, W), and returns a copy that differs from ``good`` only inside the mask:

- ``blur2`` / ``blur4``: the fill blurred by a Gaussian of sigma 2 / 4 px (computed on the whole image,
  so the blur reads real context at the contour);
- ``shift4``: the fill replaced by the image 4 px to its right and below (the content is plausible but
  misplaced);
- ``mirror``: the fill mirrored left-right inside the mask's bounding box;
- ``dark_line``: a 2-px line along the inside of the contour, darkened to 40 % (a visible seam);
- ``grey``: flat mid-grey (128); ``mean``: flat, the fill's own mean colour;
- ``jpeg10``: the image JPEG-compressed at quality 10 (PIL), inside the mask;
- ``brighter``: +20 levels on every channel (a visible brightness step at the contour);
- ``colour``: a colour cast (+20 red, -20 blue);
- ``noise``: Gaussian noise of sigma 15 levels (seed 0);
- ``pasted`` (needs ``source``): the source's own pixels pasted back inside the mask (a removal that
  brought the object back, or did nothing).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def _composite(good: np.ndarray, mask: np.ndarray, fill: np.ndarray) -> np.ndarray:
    out = good.copy()
    out[mask] = np.clip(np.round(fill[mask]), 0, 255).astype(np.uint8)
    return out


def blur(good: np.ndarray, mask: np.ndarray, *, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return _composite(good, mask, gaussian_filter(good.astype(np.float64), (sigma, sigma, 0), mode="nearest"))


def shift(good: np.ndarray, mask: np.ndarray, *, px: int = 4) -> np.ndarray:
    padded = np.pad(good, ((0, px), (0, px), (0, 0)), mode="reflect")
    return _composite(good, mask, padded[px:, px:])


def mirror(good: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    x0, x1 = xs.min(), xs.max() + 1
    flipped = good.copy()
    flipped[:, x0:x1] = good[:, x0:x1][:, ::-1]
    return _composite(good, mask, flipped)


def dark_line(good: np.ndarray, mask: np.ndarray, *, width: int = 2, factor: float = 0.4) -> np.ndarray:
    from scipy.ndimage import distance_transform_edt

    line = mask & (distance_transform_edt(mask) <= width)
    return _composite(good, line, good.astype(np.float64) * factor)


def flat(good: np.ndarray, mask: np.ndarray, *, colour=None) -> np.ndarray:
    value = good[mask].mean(axis=0) if colour is None else np.asarray(colour, dtype=np.float64)
    return _composite(good, mask, np.broadcast_to(value, good.shape).astype(np.float64))


def jpeg(good: np.ndarray, mask: np.ndarray, *, quality: int = 10) -> np.ndarray:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(good).save(buf, format="JPEG", quality=quality)
    return _composite(good, mask, np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).astype(np.float64))


def offset(good: np.ndarray, mask: np.ndarray, *, rgb=(20, 20, 20)) -> np.ndarray:
    return _composite(good, mask, good.astype(np.float64) + np.asarray(rgb, dtype=np.float64))


def noise(good: np.ndarray, mask: np.ndarray, *, sigma: float = 15.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _composite(good, mask, good.astype(np.float64) + rng.normal(0, sigma, good.shape))


DEGRADATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "blur2": lambda g, m: blur(g, m, sigma=2.0),
    "blur4": lambda g, m: blur(g, m, sigma=4.0),
    "shift4": lambda g, m: shift(g, m, px=4),
    "mirror": mirror,
    "dark_line": dark_line,
    "grey": lambda g, m: flat(g, m, colour=(128, 128, 128)),
    "mean": flat,
    "jpeg10": lambda g, m: jpeg(g, m, quality=10),
    "brighter": lambda g, m: offset(g, m, rgb=(20, 20, 20)),
    "colour": lambda g, m: offset(g, m, rgb=(20, 0, -20)),
    "noise": noise,
}


def degrade(name: str, good: np.ndarray, mask: np.ndarray, *, source: np.ndarray | None = None) -> np.ndarray:
    """``good`` degraded by ``name`` inside ``mask`` (module docstring); ``pasted`` needs ``source``."""
    if name == "pasted":
        if source is None:
            raise ValueError("degradation 'pasted' needs the source image")
        return _composite(good, mask, source.astype(np.float64))
    if name not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {name!r}; known: {sorted([*DEGRADATIONS, 'pasted'])}")
    return DEGRADATIONS[name](good, mask)
