"""``reconstruction``: holes cut over textured content that exists, with the original as ground truth.

The field's standard inpainting protocol (LaMa, BrushBench): the pipeline sees the image with a hole,
the scorers compare its fill with what was really there. For each image, ``holes`` square holes of
side ``hole_size`` x min(H, W) px are placed where the content is most textured:

- texture map = |grad L|^2 of the Rec. 601 luma (Sobel / 8), averaged over every candidate square
  (summed-area table), candidates on a grid of stride side / 4;
- a candidate keeps at least side / 2 px to the image border (so a ring of real context surrounds
  it) and does not overlap an earlier hole grown by side / 2;
- holes are taken greedily by decreasing mean texture; ties go to the first in row-major order.

Each task (kind ``inpaint``, ``params.edit = "reconstruction"``) has ``image`` = a copy of the photo
with the hole painted mid-grey (so no pipeline can read the truth), written to ``<out stem>.holes/``,
``mask`` = the box, and ``target`` = the original photo. Default scorers: ``lpips`` (the primary
metric: a ground-truth perceptual distance; needs its weights, docs/weights.md), ``fidelity`` (PSNR
and SSIM in the hole), ``texture``, ``seam``, ``background`` and ``latency``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, mask_from_recipe
from scorers.regions import luminance
from tasks.builders.common import BuildOptions, Draft, beside, list_images, mask_fraction, png_bytes, prompts_by_image, stem_id

RECONSTRUCTION_PROMPT = "a high-quality photo, the surroundings continued seamlessly"
HOLE_GREY = 128


class ReconstructionOptions(BuildOptions):
    images: Path
    holes: int = Field(1, ge=1)             # holes per image (one task each)
    hole_size: float = Field(0.25, gt=0, lt=0.5)  # hole side as a share of min(H, W)
    n: int | None = None                     # first N images


def texture_map(image: np.ndarray) -> np.ndarray:
    """|grad L|^2 of an RGB uint8 image's Rec. 601 luma (Sobel / 8), float (H, W)."""
    from scipy.ndimage import sobel


    lum = luminance(image)
    gx = sobel(lum, axis=1, mode="nearest") / 8.0
    gy = sobel(lum, axis=0, mode="nearest") / 8.0
    return gx * gx + gy * gy


def textured_holes(image: np.ndarray, *, holes: int, size: float) -> list[list[int]]:
    """Up to ``holes`` boxes [x0, y0, x1, y1] (end-exclusive) over the most textured content (module docstring)."""
    H, W = image.shape[:2]
    side = max(8, round(size * min(H, W)))
    gap, stride = side // 2, max(1, side // 4)
    sat = np.pad(texture_map(image), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    ys = np.arange(gap, H - gap - side + 1, stride)
    xs = np.arange(gap, W - gap - side + 1, stride)
    if len(ys) == 0 or len(xs) == 0:
        return []
    y0, x0 = np.meshgrid(ys, xs, indexing="ij")
    mean = (sat[y0 + side, x0 + side] - sat[y0, x0 + side] - sat[y0 + side, x0] + sat[y0, x0]) / side ** 2
    order = np.argsort(-mean.ravel(), kind="stable")
    boxes: list[list[int]] = []
    for i in order:
        y, x = int(y0.ravel()[i]), int(x0.ravel()[i])
        if all(x + side + gap <= b[0] or b[2] + gap <= x or y + side + gap <= b[1] or b[3] + gap <= y for b in boxes):
            boxes.append([x, y, x + side, y + side])
            if len(boxes) == holes:
                break
    return boxes



def draft_reconstruction(opts: ReconstructionOptions) -> Draft:
    folder = Path(opts.images).resolve()
    hole_dir = beside(opts, "holes")
    prompts = prompts_by_image(opts, folder)
    paths = [p for p in list_images(folder) if not p.is_relative_to(hole_dir)][: opts.n]
    extra: dict[Path, bytes] = {}
    tasks = []
    for p in paths:
        img = load_image(p)
        for k, box in enumerate(textured_holes(img, holes=opts.holes, size=opts.hole_size)):
            x0, y0, x1, y1 = box
            holed = img.copy()
            holed[y0:y1, x0:x1] = HOLE_GREY
            tid = f"{stem_id(p, folder)}-hole{k}"
            extra[hole_dir / f"{tid}.png"] = png_bytes(holed)
            tasks.append({"task_id": tid, "kind": "inpaint", "image": hole_dir / f"{tid}.png", "mask": {"box": box},
                          "target": p, "prompt": prompts.get(p, opts.prompt or RECONSTRUCTION_PROMPT),
                          "negative_prompt": opts.negative_prompt,
                          "params": {"edit": "reconstruction",
                                     "mask_fraction": mask_fraction(mask_from_recipe({"box": box}, img.shape[:2]))}})
    if not tasks:
        raise EditbenchError(f"--images {folder}: every image is too small for holes of {opts.hole_size} x its short "
                             "side with half a hole of context around them.")
    return Draft(tasks=tasks, pipelines=["cv2-telea", "cv2-ns", "patchmatch", "sd-inpaint"],
                 scorers=["lpips", "fidelity", "texture", "seam", "background", "latency"],
                 description=f"Reconstruction: {len(tasks)} square holes ({opts.hole_size:g} x the short side) over the "
                             f"most textured content of images in {folder.name}/, the original as target.",
                 extra_files=extra)
