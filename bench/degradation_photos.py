"""Real photos for the degradation battery: crops of scikit-image's and insightface's sample images.

``battery_photos()`` returns ``[(name, image, mask)]``: a 144 x 144 crop (RGB uint8) of each photo and a
square hole of side 36 px over its most textured content (``tasks.builders.reconstruction.textured_holes``,
a quarter of the side, half a hole of context around it). Photos: scikit-image's astronaut, chelsea,
coffee and rocket (crops at fixed offsets) and insightface's ``data/images/t1.jpg`` (a group photo).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.core.imageio import load_image
from tasks.builders.reconstruction import textured_holes

CROPS = {"astronaut": (0, 180), "chelsea": (40, 120), "coffee": (150, 250), "rocket": (150, 150)}  # (row, col)
SIDE = 144


def insightface_image(name: str = "t1.jpg") -> Path | None:
    """Path of one of insightface's sample photos, or None when insightface is not installed."""
    try:
        import insightface
    except ImportError:
        return None
    p = Path(insightface.__file__).parent / "data" / "images" / name
    return p if p.is_file() else None


def battery_photos() -> list[tuple[str, np.ndarray, np.ndarray]]:
    from skimage import data

    photos = [(n, getattr(data, n)()[r:r + SIDE, c:c + SIDE, :3]) for n, (r, c) in CROPS.items()]
    t1 = insightface_image()
    if t1 is not None:
        img = load_image(t1)
        photos.append(("insightface-t1", img[:SIDE, img.shape[1] // 2 - SIDE // 2:][:, :SIDE]))
    out = []
    for name, img in photos:
        img = np.ascontiguousarray(img)
        x0, y0, x1, y1 = textured_holes(img, holes=1, size=0.25)[0]
        mask = np.zeros(img.shape[:2], bool)
        mask[y0:y1, x0:x1] = True
        out.append((name, img, mask))
    return out
