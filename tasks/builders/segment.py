"""Builders whose masks come from a segmenter: ``background-replace`` and ``sky-replace``.

- ``background-replace``: per image a subject box (``--boxes`` CSV ``image,x0,y0,x1,y1``; without
  ``--images``, three of scikit-image's bundled photos with hand-set boxes). With a SAM generator's
  weights available (``--mask-model``, default ``sam-vit-b``; ``--mask-weights`` a folder or ``random``)
  the mask is the recipe ``{sam: {box}, invert: true}``: everything but the subject is regenerated.
  Without weights it falls back to the inverted box, written as a mask file. The prompt describes the
  whole new scene with the subject in it (``a photo of <subject> <scene>``). Meta: ``edit``,
  ``subject_box``, ``mask_source`` (the generator, or ``box``), and for box masks ``mask_fraction``.
- ``sky-replace``: the sky of each image (without ``--images``: the bundled ``rocket.jpg``) found by a
  colour heuristic: pixels whose blue exceeds red by ``SKY_BLUE_MARGIN`` and green by none, the
  4-connected parts of them that touch the top border, holes filled. With SAM weights the mask is the
  recipe ``{sam: {box: the heuristic sky's bounding box, points: [its innermost pixel], labels: [1]}}``;
  without, the heuristic mask itself (a mask file). Images whose sky covers under ``MIN_SKY`` of the
  frame are skipped (an error when none is left).

Default pipelines ``cv2-telea`` and ``sd-inpaint``; scorers ``subject`` (the primary metric of
background replacement, ``primary: subject.psnr``: the subject unchanged), ``background``, ``seam``, ``latency``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image
from harness.masks import SamRecipe, absolute_weights, build_generator
from scorers.regions import mask_bbox
from tasks.builders.common import (
    BuildOptions,
    Draft,
    beside,
    list_images,
    mask_fraction,
    png_bytes,
    prompts_by_image,
    read_csv,
    stem_id,
    under,
)
from tasks.schema import resolve_data_root

SKIMAGE = "pkg:skimage/data"
# Bundled photos with a subject: file -> (subject box [x0, y0, x1, y1] px, subject noun).
BUNDLED_SUBJECTS = {
    "astronaut.png": ([20, 10, 360, 512], "an astronaut in an orange suit"),
    "coffee.png": ([70, 8, 480, 388], "a cup of espresso on a red saucer"),
    "motorcycle_left.png": ([100, 85, 680, 450], "a red motorcycle"),
}
BUNDLED_SKY = ("rocket.jpg",)
DEFAULT_SCENE = "on a sunny beach with palm trees and turquoise sea, golden hour light"
SKY_PROMPT = "blue sky at sunset with soft orange clouds"
NEGATIVE = "blurry, distorted, artifacts, text, watermark"
SKY_BLUE_MARGIN = 15      # blue - red, in 0..255, for a sky pixel
MIN_SKY = 0.05            # least share of the frame a usable sky covers


class SegmentOptions(BuildOptions):
    images: Path | None = None          # default: scikit-image's bundled photos
    boxes: Path | None = None           # background-replace: CSV image,x0,y0,x1,y1[,subject]
    mask_model: str = "sam-vit-b"       # the mask generator asked when its weights are available
    mask_weights: str | None = None     # its save_pretrained folder, or "random"; None: $EDITBENCH_WEIGHTS/<model>
    scene: str | None = None            # background-replace: the new scene (default DEFAULT_SCENE)
    n: int | None = None


def _sam_available(opts: SegmentOptions) -> bool:
    recipe = SamRecipe(sam={"box": [0, 0, 1, 1]}, model=opts.mask_model, weights=opts.mask_weights)
    try:
        build_generator(recipe).check()
    except EditbenchError:
        if opts.mask_weights is not None:     # weights given explicitly but unusable: say so
            raise
        return False
    return True


def _sam_recipe(opts: SegmentOptions, prompt: dict, *, invert: bool) -> dict:
    r = {"sam": prompt, "model": opts.mask_model}
    if invert:
        r["invert"] = True
    if opts.mask_weights is not None:
        r["weights"] = absolute_weights(opts.mask_weights, Path.cwd())
    return r



def _inputs(opts: SegmentOptions, bundled: tuple[str, ...]) -> tuple[Path, list[Path], str | None]:
    """(folder, images, pkg root): the given folder, or the bundled photos and their ``pkg:`` root (written as
    ``pkg:`` paths, so the suite's data root can hold the fallback mask files)."""
    if opts.images is not None:
        folder = Path(opts.images).resolve()
        return folder, list_images(folder), None

    folder = resolve_data_root(SKIMAGE, Path.cwd())
    return folder, [folder / n for n in bundled], SKIMAGE


def draft_background_replace(opts: SegmentOptions) -> Draft:
    folder, _, data_root = _inputs(opts, tuple(BUNDLED_SUBJECTS))
    if opts.images is not None and opts.boxes is None:
        raise EditbenchError("background-replace with --images needs --boxes CSV (image,x0,y0,x1,y1[,subject]).")
    subjects: list[tuple[Path, list[int], str]] = []
    if opts.boxes is not None:
        for r in read_csv(opts.boxes, columns=("image", "x0", "y0", "x1", "y1")):
            try:
                box = [int(round(float(r[c]))) for c in ("x0", "y0", "x1", "y1")]
            except ValueError:
                raise EditbenchError(f"--boxes {opts.boxes}: box of {r['image']} is not numbers: {r}.") from None
            subjects.append((under(folder, r["image"]), box, r.get("subject") or "the subject"))
    else:
        subjects = [(folder / n, list(b), s) for n, (b, s) in BUNDLED_SUBJECTS.items()]
    subjects = subjects[: opts.n] if opts.n else subjects
    use_sam = _sam_available(opts)
    prompts = prompts_by_image(opts, folder)
    mask_dir = beside(opts, "masks")
    extra: dict[Path, bytes] = {}
    tasks = []
    counts: dict[str, int] = {}
    for p, box, subject in subjects:
        h, w = load_image(p).shape[:2]
        x0, y0, x1, y1 = box
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise EditbenchError(f"subject box {box} of {p} is not inside the {w}x{h} image.")
        keep = np.zeros((h, w), bool)
        keep[y0:y1, x0:x1] = True
        sid = stem_id(p, folder)
        k = counts[sid] = counts.get(sid, -1) + 1
        tid = sid if k == 0 else f"{sid}-{k}"      # several subjects of one image: one task each
        if use_sam:
            mask = _sam_recipe(opts, {"box": box}, invert=True)
        else:
            mask = mask_dir / f"{tid}.png"
            extra[mask] = png_bytes(~keep)
        scene = opts.scene or DEFAULT_SCENE
        tasks.append({"task_id": tid, "kind": "inpaint", "image": p, "mask": mask,
                      "prompt": prompts.get(p, opts.prompt or f"a photo of {subject} {scene}"),
                      "negative_prompt": opts.negative_prompt if opts.negative_prompt is not None else NEGATIVE,
                      "params": {"edit": "background-replace", "subject_box": box,
                                 "mask_source": opts.mask_model if use_sam else "box",
                                 # a SAM mask's size is known once the run's mask stage stored it (its .json)
                                 **({} if use_sam else {"mask_fraction": mask_fraction(~keep)})}})
    if not tasks:
        raise EditbenchError(f"background-replace: no subject boxes for the images in {folder}.")
    how = f"{opts.mask_model} masks (subject box, inverted)" if use_sam else "inverted subject boxes (no SAM weights)"
    return Draft(tasks=tasks, pipelines=["cv2-telea", "sd-inpaint"], scorers=["subject", "background", "seam", "latency"],
                 description=f"Background replacement: {len(tasks)} subjects kept, the scene around them regenerated; "
                             f"{how}.", extra_files=extra, pkg_roots=(data_root,) if data_root else (),
                 primary="subject.psnr")


def sky_mask(image: np.ndarray, *, margin: int = SKY_BLUE_MARGIN) -> np.ndarray:
    """The sky of an RGB uint8 (H, W, 3) image by colour: blue > red + ``margin`` and blue >= green, the
    4-connected parts touching the top row, holes filled (module docstring). Bool (H, W)."""
    from scipy.ndimage import binary_fill_holes, label

    rgb = image.astype(np.int16)
    blue = (rgb[..., 2] > rgb[..., 0] + margin) & (rgb[..., 2] >= rgb[..., 1])
    lab, _ = label(blue)
    top = np.unique(lab[0][lab[0] > 0])
    return binary_fill_holes(np.isin(lab, top)) if len(top) else np.zeros(blue.shape, bool)


def innermost(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of the mask pixel farthest from its border (first in row-major order on ties)."""
    from scipy.ndimage import distance_transform_edt

    d = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(x), int(y)


def draft_sky_replace(opts: SegmentOptions) -> Draft:
    folder, images, data_root = _inputs(opts, BUNDLED_SKY)
    images = images[: opts.n] if opts.n else images
    use_sam = _sam_available(opts)
    prompts = prompts_by_image(opts, folder)
    mask_dir = beside(opts, "masks")
    extra: dict[Path, bytes] = {}
    tasks = []
    for p in images:
        sky = sky_mask(load_image(p))
        if sky.mean() < MIN_SKY:
            continue
        tid = stem_id(p, folder)
        if use_sam:
            x, y = innermost(sky)
            mask = _sam_recipe(opts, {"box": list(mask_bbox(sky)), "points": [[x, y]], "labels": [1]}, invert=False)
        else:
            mask = mask_dir / f"{tid}.png"
            extra[mask] = png_bytes(sky)
        tasks.append({"task_id": tid, "kind": "inpaint", "image": p, "mask": mask,
                      "prompt": prompts.get(p, opts.prompt or SKY_PROMPT),
                      "negative_prompt": opts.negative_prompt if opts.negative_prompt is not None else NEGATIVE,
                      "params": {"edit": "sky-replace", "mask_source": opts.mask_model if use_sam else "colour",
                                 **({} if use_sam else {"mask_fraction": mask_fraction(sky)})}})
    if not tasks:
        raise EditbenchError(f"sky-replace: no image in {folder} has a sky (blue region touching the top border) "
                             f"covering {MIN_SKY:.0%} of the frame.")
    how = f"{opts.mask_model} masks from the colour heuristic's box and point" if use_sam else "colour-heuristic masks"
    return Draft(tasks=tasks, pipelines=["cv2-telea", "sd-inpaint"], scorers=["background", "seam", "latency"],
                 description=f"Sky replacement: {len(tasks)} skies regenerated; {how}.", extra_files=extra,
                 pkg_roots=(data_root,) if data_root else ())
