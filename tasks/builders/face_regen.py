"""The face-regeneration builder: one task per detected face, N faces picked deterministically.

For every image (sorted by path) faces are detected with :func:`harness.face_detectors.detect`:
``--detector`` ``dlib-hog`` (default: dlib's HOG detector; each box must pass the 5-point landmark check),
``dlib-mmod`` (dlib's CNN), ``scrfd`` (insightface's SCRFD, from ``--face-weights``), ``lbp-cascade``, or
``auto`` (SCRFD when ``--face-weights`` holds its ONNX, else dlib-hog). Each face gives a task:

- mask: an inline ellipse recipe: the ellipse through the corners of the face box, made
  :data:`CHIN_FOREHEAD` taller (forehead and chin), grown by ``--dilate`` px on each radius; it
  therefore covers the whole detected box; ``--variants`` adds ``ellipse-wide`` (grown 3 x ``--dilate``)
  and ``box`` (the face box grown by ``--dilate``) masks, one task per face and variant;
- reference: the source image (the identity to keep); meta ``face_box`` names the face in it;
- control: the source pose, rendered by ``harness.pose`` from OpenPose weights when ``--pose-weights`` is
  given (written as PNG next to the suite, in ``<suite>.pose/``); absent otherwise;
- prompt: re-describes the whole subject (not only the face), per image from ``--prompts`` if given;
- meta ``detector``: the detector that found the face.

The suite scores identity (dlib backend, so that numbers are comparable on every machine), face pose,
body pose, background, seam and latency, with ``identity.distance`` as its primary metric.

Picking: faces are taken round-robin over images (each image's largest face first, then each image's
second largest, ...) until ``n``; so the choice depends only on the images, never on chance.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from harness.core.errors import WeightsNotFound
from harness.core.imageio import load_image, mask_from_recipe
from harness.core.weights import resolve_weights
from harness.face_detectors import detect, resolve_detector
from harness.faces import find_scrfd
from harness.pose import BodyPoseEstimator, render_pose
from tasks.builders.common import BuildOptions, Draft, beside, list_images, mask_fraction, png_bytes, prompts_by_image, stem_id

CHIN_FOREHEAD = 1.1   # ellipse height / width ratio over that of the box
DEFAULT_PROMPT = ("a photo of the same person in the same pose, with the same hair, clothing and setting; "
                  "natural detailed face, realistic skin, sharp focus")
DEFAULT_NEGATIVE = "deformed face, distorted features, extra eyes, blurry, low quality, cartoon"


class FaceRegenOptions(BuildOptions):
    images: Path                        # folder of portraits / group photos
    n: int = 20                         # faces to pick (fewer if the images hold fewer)
    dilate: int = 8                     # px added to both ellipse radii
    min_face: int = 32                  # smallest face box side kept, px
    face_weights: Path | None = None    # insightface folder holding det_*.onnx (SCRFD)
    detector: Literal["auto", "dlib-hog", "dlib-mmod", "scrfd", "lbp-cascade"] = "dlib-hog"
    variants: list[Literal["ellipse", "ellipse-wide", "box"]] = ["ellipse"]   # masks per face (one task each)
    pose_weights: Path | None = None    # OpenPose folder (body_pose_model.pth); renders the source pose as control


def face_ellipse(box, *, dilate: float, shape: tuple[int, int] | None = None) -> list[float]:
    """Ellipse recipe [cx, cy, rx, ry] (px, 1 decimal) covering ``box`` = (x0, y0, x1, y1), grown by ``dilate``."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rx = (x1 - x0) / math.sqrt(2) + dilate
    ry = CHIN_FOREHEAD * (y1 - y0) / math.sqrt(2) + dilate
    return [round(cx, 1), round(cy, 1), round(rx, 1), round(ry, 1)]


def variant_mask(variant: str, box, *, dilate: int, shape: tuple[int, int]) -> tuple[dict, int]:
    """(mask recipe, px grown) of one mask variant of a face box: ``ellipse`` (grown by ``dilate``),
    ``ellipse-wide`` (grown by 3 x ``dilate``) or ``box`` (the face box grown by ``dilate``, clipped)."""
    if variant == "ellipse":
        return {"ellipse": face_ellipse(box, dilate=dilate)}, dilate
    if variant == "ellipse-wide":
        return {"ellipse": face_ellipse(box, dilate=3 * dilate)}, 3 * dilate
    x0, y0, x1, y1 = box
    h, w = shape
    return {"box": [max(0, int(x0 - dilate)), max(0, int(y0 - dilate)), min(w, int(math.ceil(x1 + dilate))),
                    min(h, int(math.ceil(y1 + dilate)))]}, dilate


def pick_round_robin(per_image: list[list], n: int) -> list[tuple[int, int]]:
    """(image index, face index) pairs: every image's face 0, then every image's face 1, ... up to ``n``."""
    picked: list[tuple[int, int]] = []
    depth = max((len(f) for f in per_image), default=0)
    for k in range(depth):
        for i, faces in enumerate(per_image):
            if k < len(faces) and len(picked) < n:
                picked.append((i, k))
    return picked



def draft_face_regen(opts: FaceRegenOptions) -> Draft:
    folder = Path(opts.images).resolve()
    pose_dir = beside(opts, "pose")
    paths = [p for p in list_images(folder) if not p.is_relative_to(pose_dir)]  # not our own earlier output
    face_dir = None
    if opts.face_weights is not None:
        face_dir = resolve_weights("insightface", str(opts.face_weights))
        if find_scrfd(face_dir) is None:
            raise WeightsNotFound(f"--face-weights {face_dir} holds no SCRFD detector (expected "
                                  f"{face_dir}/det_10g.onnx or another det_*.onnx).")
    detector = resolve_detector(opts.detector, face_dir)
    per_image, shapes = [], []
    for p in paths:
        img = load_image(p)
        shapes.append(img.shape[:2])
        faces = [f for f in detect(img, detector=detector, weights_dir=face_dir)
                 if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= opts.min_face]
        per_image.append(faces)
    picked = pick_round_robin(per_image, opts.n)

    estimator = render = None
    if opts.pose_weights is not None:
        estimator, render = BodyPoseEstimator(opts.pose_weights), render_pose
    prompts = prompts_by_image(opts, folder)
    extra: dict[Path, bytes] = {}
    tasks = []
    for i, k in sorted(picked):
        p, face = paths[i], per_image[i][k]
        h, w = shapes[i]
        control = None
        if estimator is not None:
            control = pose_dir / f"{stem_id(p, folder)}.png"
            if control not in extra:
                extra[control] = png_bytes(render((h, w), estimator(load_image(p))))
        box = [round(v, 1) for v in face.box]
        for variant in opts.variants:
            mask, grow = variant_mask(variant, face.box, dilate=opts.dilate, shape=(h, w))
            suffix = "" if variant == "ellipse" else f"-{variant}"
            tasks.append({
                "task_id": f"{stem_id(p, folder)}-face{k}{suffix}",
                "kind": "face_regen",
                "image": p,
                "mask": mask,
                "reference": p,
                "control": control,
                "prompt": prompts.get(p, opts.prompt or DEFAULT_PROMPT),
                "negative_prompt": opts.negative_prompt if opts.negative_prompt is not None else DEFAULT_NEGATIVE,
                # ellipse_grow is a label: the mask is already grown, so no pipeline dilates it again
                "meta": {"face_box": box, "face_index": k, "detector": face.detector, "ellipse_grow": grow,
                         **({"mask_variant": variant} if len(opts.variants) > 1 else {}),
                         "mask_fraction": _recipe_fraction(mask, (h, w))},
            })
    n_found = sum(len(f) for f in per_image)
    return Draft(
        tasks=tasks,
        pipelines=["sd-inpaint-openpose", "flux-fill"],
        scorers=["identity", "face_pose", "pose", "background", "seam", "latency"],
        description=f"Face regeneration: {len(tasks)} of {n_found} faces detected in {len(paths)} images "
                    f"of {folder.name}/ (ellipse masks grown by {opts.dilate} px).",
        extra_files=extra,
        primary="identity.distance",
        scorer_options={"identity": {"backend": "dlib"}},
    )


def _recipe_fraction(recipe: dict, shape: tuple[int, int]) -> float:
    return mask_fraction(mask_from_recipe(recipe, shape))
