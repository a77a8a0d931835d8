"""Builders with one task per image (or per row): removal, outpaint, sdedit-sweep, instruct.

- ``removal``: object removal (kind ``inpaint``, meta ``edit = "removal"``) from images plus either a
  folder of mask files (same relative name, any image extension, optionally ``_mask`` suffixed) or a
  CSV of boxes ``image,x0,y0,x1,y1`` (one task per row, inline box recipes).
- ``outpaint``: extend each image by margins ``L,R,T,B`` px (or one number for all sides) or to a target
  aspect ratio ``W:H`` (the short side grows, split evenly, odd pixel to the right/bottom). Written as
  override ``outpaint = {left, right, top, bottom}`` (px); the canvas mask is the pipeline's to build.
- ``sdedit-sweep``: one task per image and strength t/T (override ``strength``), default
  0.3, 0.4, 0.5, 0.6, 0.7, 0.9: where fidelity to the source breaks.
- ``instruct``: instruction edits from a CSV ``image,instruction`` (one task per row).
"""

from __future__ import annotations

from pathlib import Path

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, load_mask, mask_from_recipe
from tasks.builders.common import (
    IMAGE_EXTS,
    BuildOptions,
    Draft,
    list_images,
    mask_fraction,
    prompts_by_image,
    read_csv,
    stem_id,
    under,
)

REMOVAL_PROMPT = "empty background, the surroundings continued seamlessly"
REMOVAL_NEGATIVE = "object, person, animal, text, watermark, artifacts"
SDEDIT_STRENGTHS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.9]


class RemovalOptions(BuildOptions):
    images: Path
    masks: Path | None = None        # folder of mask files (white = remove)
    boxes: Path | None = None        # CSV image,x0,y0,x1,y1 (px, end-exclusive), image relative to --images
    n: int | None = None             # first N tasks


def _mask_for(image: Path, folder: Path, masks: Path) -> Path:
    rel = image.relative_to(folder).with_suffix("")
    for cand in (rel, rel.with_name(rel.name + "_mask")):
        for ext in IMAGE_EXTS:
            p = masks / cand.with_suffix(ext)
            if p.is_file():
                return p
    raise EditbenchError(f"no mask for image {image} in --masks {masks} (looked for {rel}.png, {rel}_mask.png, ...).")


def draft_removal(opts: RemovalOptions) -> Draft:
    if (opts.masks is None) == (opts.boxes is None):
        raise EditbenchError("removal needs exactly one of --masks DIR or --boxes CSV.")
    folder = Path(opts.images).resolve()
    prompts = prompts_by_image(opts, folder)
    tasks = []
    if opts.masks is not None:
        masks = Path(opts.masks).resolve()
        for p in list_images(folder):
            if p.is_relative_to(masks):
                continue  # a masks folder inside the images folder
            m = _mask_for(p, folder, masks)
            shape = load_image(p).shape[:2]
            tasks.append({"task_id": stem_id(p, folder), "kind": "inpaint", "image": p, "mask": m,
                          "params": {"edit": "removal", "mask_fraction": mask_fraction(load_mask(str(m), shape=shape,
                                                                                                 where=str(p)))}})
    else:
        counts: dict[str, int] = {}
        for r in read_csv(opts.boxes, columns=("image", "x0", "y0", "x1", "y1")):
            p = under(folder, r["image"])
            try:
                box = [int(round(float(r[c]))) for c in ("x0", "y0", "x1", "y1")]
            except ValueError:
                raise EditbenchError(f"--boxes {opts.boxes}: box of {r['image']} is not numbers: {r}.") from None
            shape = load_image(p).shape[:2]
            sid = stem_id(p, folder)
            k = counts[sid] = counts.get(sid, -1) + 1
            tasks.append({"task_id": f"{sid}-box{k}", "kind": "inpaint", "image": p, "mask": {"box": box},
                          "params": {"edit": "removal", "mask_fraction": mask_fraction(mask_from_recipe({"box": box},
                                                                                                        shape))}})
    tasks = tasks[: opts.n] if opts.n else tasks
    for t in tasks:
        t["prompt"] = prompts.get(t["image"], opts.prompt if opts.prompt is not None else REMOVAL_PROMPT)
        t["negative_prompt"] = opts.negative_prompt if opts.negative_prompt is not None else REMOVAL_NEGATIVE
    return Draft(tasks=tasks, pipelines=["cv2-telea", "cv2-ns", "patchmatch", "sd-inpaint"],
                 scorers=["texture", "seam", "background", "latency"],
                 description=f"Object removal: {len(tasks)} masked regions in images of {folder.name}/.")


class OutpaintOptions(BuildOptions):
    images: Path
    margins: str | None = None       # "L,R,T,B" px, or one number for every side
    aspect: str | None = None        # target aspect ratio "W:H", e.g. "16:9"
    n: int | None = None


def outpaint_margins(shape: tuple[int, int], *, margins: str | None = None, aspect: str | None = None) -> dict:
    """``{left, right, top, bottom}`` px for an image of ``shape`` (H, W): the given margins, or those
    reaching ``aspect``."""
    h, w = shape
    if (margins is None) == (aspect is None):
        raise EditbenchError("outpaint needs exactly one of --margins L,R,T,B or --aspect W:H.")
    if margins is not None:
        try:
            vals = [int(v) for v in margins.split(",")]
        except ValueError:
            raise EditbenchError(f"--margins {margins!r} must be integers: L,R,T,B or one number.") from None
        if len(vals) == 1:
            vals *= 4
        if len(vals) != 4 or min(vals) < 0 or max(vals) == 0:
            raise EditbenchError(f"--margins {margins!r} must be 1 or 4 integers >= 0, not all 0.")
        return dict(zip(("left", "right", "top", "bottom"), vals))
    try:
        aw, ah = (float(v) for v in aspect.split(":"))
        assert aw > 0 and ah > 0
    except (ValueError, AssertionError):
        raise EditbenchError(f"--aspect {aspect!r} must be W:H with positive numbers, e.g. 16:9.") from None
    if w / h < aw / ah:
        extra = int(round(h * aw / ah)) - w
        return {"left": extra // 2, "right": extra - extra // 2, "top": 0, "bottom": 0}
    extra = int(round(w * ah / aw)) - h
    return {"left": 0, "right": 0, "top": extra // 2, "bottom": extra - extra // 2}


def draft_outpaint(opts: OutpaintOptions) -> Draft:
    folder = Path(opts.images).resolve()
    outpaint_margins((1, 1), margins=opts.margins, aspect=opts.aspect)  # option errors before reading images
    prompts = prompts_by_image(opts, folder)
    tasks = []
    for p in list_images(folder, n=opts.n):
        shape = load_image(p).shape[:2]
        m = outpaint_margins(shape, margins=opts.margins, aspect=opts.aspect)
        if not any(m.values()):
            continue  # already at the target aspect ratio
        tasks.append({"task_id": stem_id(p, folder), "kind": "outpaint", "image": p,
                      "prompt": prompts.get(p, opts.prompt or ""), "negative_prompt": opts.negative_prompt,
                      "params": {"outpaint": m, "mask_fraction": round(1 - shape[0] * shape[1] / (
                          (shape[0] + m["top"] + m["bottom"]) * (shape[1] + m["left"] + m["right"])), 4)}})
    if not tasks:
        raise EditbenchError(f"every image of --images {folder} already has aspect ratio {opts.aspect}.")
    how = f"margins {opts.margins} px" if opts.margins else f"aspect ratio {opts.aspect}"
    return Draft(tasks=tasks, pipelines=["cv2-telea", "sd-inpaint", "flux-fill"],
                 scorers=["seam", "background", "latency"],
                 description=f"Outpainting: {len(tasks)} images of {folder.name}/ extended to {how}.")


class SdeditOptions(BuildOptions):
    images: Path
    strengths: list[float] = SDEDIT_STRENGTHS   # t/T values, each in (0, 1]
    n: int | None = None


def draft_sdedit(opts: SdeditOptions) -> Draft:
    bad = [s for s in opts.strengths if not 0 < s <= 1]
    if bad:
        raise EditbenchError(f"--strengths {bad} are outside (0, 1].")
    folder = Path(opts.images).resolve()
    prompts = prompts_by_image(opts, folder)
    tasks = [{"task_id": f"{stem_id(p, folder)}-s{s:g}", "kind": "sdedit", "image": p,
              "prompt": prompts.get(p, opts.prompt or "a high-quality photo"), "negative_prompt": opts.negative_prompt,
              "params": {"strength": s}}
             for p in list_images(folder, n=opts.n) for s in opts.strengths]
    return Draft(tasks=tasks, pipelines=["sdedit"], scorers=["clip", "background", "latency"],
                 description=f"SDEdit strength sweep {opts.strengths} over images of {folder.name}/.",
                 sweep=["strength"])


class InstructOptions(BuildOptions):
    images: Path
    csv: Path                          # columns image,instruction (image relative to --images)
    n: int | None = None


def draft_instruct(opts: InstructOptions) -> Draft:
    folder = Path(opts.images).resolve()
    counts: dict[str, int] = {}
    tasks = []
    for r in read_csv(opts.csv, columns=("image", "instruction")):
        p = under(folder, r["image"])
        if not p.is_file():
            raise EditbenchError(f"--csv {opts.csv}: image {r['image']!r} is not in --images {folder}.")
        sid = stem_id(p, folder)
        k = counts[sid] = counts.get(sid, -1) + 1
        tasks.append({"task_id": f"{sid}-i{k}", "kind": "instruct", "image": p,
                      "instruction": r["instruction"].strip(), "prompt": opts.prompt or ""})
    tasks = tasks[: opts.n] if opts.n else tasks
    return Draft(tasks=tasks, pipelines=["instruct-pix2pix", "flux-kontext"], scorers=["clip", "latency"],
                 description=f"Instruction edits: {len(tasks)} (image, instruction) pairs from {Path(opts.csv).name}.")
