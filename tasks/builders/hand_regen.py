"""The hand-regeneration builder: one task per hand box of a CSV (``editbench suite build hand-regen``).

``--boxes CSV`` has columns ``image,x0,y0,x1,y1`` (pixels, image paths relative to ``--images``), one row
per hand. Each row gives an ``inpaint`` task:

- mask: an inline ellipse recipe through the corners of the hand box, both radii grown by ``--dilate``
  px (:func:`tasks.builders.face_regen.face_ellipse` without the chin allowance), so it covers the box;
- reference: the source image; meta ``edit: hand_regen``, ``hand_box``, ``hand_index``, ``ellipse_grow``
  and ``mask_fraction``;
- prompt: re-describes the hand (``--prompt`` or per image ``--prompts``), negative prompt against
  extra or fused fingers.

Rows keep the CSV's order; ``-n`` keeps the first N. The hand boxes come from the CSV only: OpenPose's
hand detector is not used by this builder.
"""

from __future__ import annotations

import math
from pathlib import Path

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, mask_from_recipe
from tasks.builders.common import BuildOptions, Draft, mask_fraction, prompts_by_image, read_csv, stem_id, under

DEFAULT_PROMPT = "a photo of the same person, natural relaxed human hand with five fingers, realistic skin, sharp focus"
DEFAULT_NEGATIVE = "extra fingers, fused fingers, missing fingers, deformed hand, blurry, low quality"


class HandRegenOptions(BuildOptions):
    images: Path                # folder of photos
    boxes: Path                 # CSV image,x0,y0,x1,y1: one hand per row
    dilate: int = 8             # px added to both ellipse radii
    n: int | None = None        # keep the first N rows


def hand_ellipse(box, *, dilate: float) -> list[float]:
    """Ellipse recipe [cx, cy, rx, ry] (px, 1 decimal) through the corners of ``box``, grown by ``dilate``."""
    x0, y0, x1, y1 = box
    return [round((x0 + x1) / 2, 1), round((y0 + y1) / 2, 1),
            round((x1 - x0) / math.sqrt(2) + dilate, 1), round((y1 - y0) / math.sqrt(2) + dilate, 1)]


def draft_hand_regen(opts: HandRegenOptions) -> Draft:
    folder = Path(opts.images).resolve()
    prompts = prompts_by_image(opts, folder)
    tasks, counts = [], {}
    for r in read_csv(opts.boxes, columns=("image", "x0", "y0", "x1", "y1")):
        p = under(folder, r["image"])
        try:
            box = [float(r[c]) for c in ("x0", "y0", "x1", "y1")]
        except ValueError:
            raise EditbenchError(f"--boxes {opts.boxes}: box of {r['image']} is not numbers: {r}.") from None
        if not (box[2] > box[0] and box[3] > box[1]):
            raise EditbenchError(f"--boxes {opts.boxes}: box of {r['image']} is empty (need x1 > x0 and y1 > y0): {r}.")
        shape = load_image(p).shape[:2]
        sid = stem_id(p, folder)
        k = counts[sid] = counts.get(sid, -1) + 1
        ellipse = hand_ellipse(box, dilate=opts.dilate)
        tasks.append({
            "task_id": f"{sid}-hand{k}", "kind": "inpaint", "image": p, "reference": p,
            "mask": {"ellipse": ellipse},
            "prompt": prompts.get(p, opts.prompt or DEFAULT_PROMPT),
            "negative_prompt": opts.negative_prompt if opts.negative_prompt is not None else DEFAULT_NEGATIVE,
            "meta": {"edit": "hand_regen", "hand_box": [round(v, 1) for v in box], "hand_index": k,
                     "ellipse_grow": opts.dilate,
                     "mask_fraction": mask_fraction(mask_from_recipe({"ellipse": ellipse}, shape))},
        })
    tasks = tasks[: opts.n] if opts.n else tasks
    if not tasks:
        raise EditbenchError(f"--boxes {opts.boxes} holds no hand boxes.")
    return Draft(tasks=tasks, pipelines=["cv2-telea", "cv2-ns", "patchmatch", "sd-inpaint"],
                 scorers=["seam", "background", "latency"],
                 description=f"Hand regeneration: {len(tasks)} hand boxes in images of {folder.name}/.")
