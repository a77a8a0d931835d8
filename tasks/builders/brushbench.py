"""``brushbench``: a suite from BrushBench, or BrushNet's re-processed EditBench, in their own layout.

``--root`` is the benchmark's folder (``data/BrushBench`` or ``data/EditBench`` in BrushNet)::

    mapping_file.json     {id: {image, caption, inpainting_mask[, outpainting_mask]}}
    images/...            the 512 x 512 images; ``image`` is relative to --root, as BrushNet joins it

Masks are flat row-major RLE over 512 x 512 with **1-indexed** starts (BrushNet's ``rle2mask``), decoded
to 1 = the region to paint (our 1 = regenerate) and written as PNGs beside the suite. ``--painting``:
``inpainting`` (default; "inside-inpainting"), ``outpainting`` (BrushBench's "outside-inpainting": the mask
covers the image's outside on the same canvas, so the task is kind ``inpaint``, not our canvas-growing
``outpaint``), or ``both`` (two tasks per entry, ``<id>-inpainting`` / ``<id>-outpainting``, with the
declared report axis ``painting``). ``prompt`` = ``caption``.

BrushNet's generation protocol (seed 1234, 50 UniPC steps, safety checker off, optional blended
paste-back with a 21 x 21 Gaussian) is a pipeline setting, not part of the data: docs/benchmarks-supported.md.
Default scorers ``brushbench`` (its masked PSNR/MSE as published and per channel, scorers/brushbench.py)
and ``latency``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from harness.core.errors import EditbenchError
from tasks.builders.benchmark_formats import DatasetInfo, field, inside, read_json_mapping, rle_decode, sanitise_id, sha256_file
from tasks.builders.common import BuildOptions, Draft, beside, mask_fraction, png_bytes
from tasks.builders.pie_bench import image_side

MAPPING = "mapping_file.json"
SIDE = 512
KEYS = {"inpainting": "inpainting_mask", "outpainting": "outpainting_mask"}
INFO = dict(name="BrushBench / BrushNet EditBench",
            source="BrushNet, github.com/TencentARC/BrushNet (data/BrushBench, data/EditBench: mapping_file.json, images/)",
            licence="as stated by the BrushNet repository and its data form (research use); EditBench images keep "
                    "Google's EditBench terms")


class BrushBenchOptions(BuildOptions):
    root: Path                                                   # the folder holding mapping_file.json
    painting: Literal["inpainting", "outpainting", "both"] = "inpainting"   # which mask(s) of each entry
    n: int | None = None                                         # first N entries


def draft_brushbench(opts: BrushBenchOptions) -> Draft:
    root = Path(opts.root).resolve()
    mapping = root / MAPPING
    entries = read_json_mapping(mapping, what="BrushBench mapping file")
    which = list(KEYS) if opts.painting == "both" else [opts.painting]
    masks_dir = beside(opts, "masks")
    tasks, extra = [], {}
    for key, item in list(entries.items())[: opts.n] if opts.n else entries.items():
        where = f"{mapping} entry {key!r}"
        rel = field(item, "image", str, where=where)
        image = inside(root, rel, where=f"{where} field 'image'")
        if image_side(image) != (SIDE, SIDE):
            w, h = image_side(image)
            raise EditbenchError(f"{where} field 'image': {image} is {w}x{h}; BrushBench masks are {SIDE}x{SIDE}.")
        caption = field(item, "caption", str, where=where)
        for painting in which:
            name = KEYS[painting]
            mask = rle_decode(field(item, name, list, where=where), base=1, where=f"{where} field {name!r}")
            if not mask.any():
                raise EditbenchError(f"{where} field {name!r} decodes to an empty mask.")
            tid = sanitise_id(key) + (f"-{painting}" if opts.painting == "both" else "")
            mask_path = masks_dir / f"{tid}.png"
            extra[mask_path] = png_bytes(mask)
            tasks.append({"task_id": tid, "kind": "inpaint", "image": image, "mask": mask_path, "prompt": caption,
                          "meta": {"source_id": str(key), "image_path": rel, "painting": painting,
                                   "mask_fraction": mask_fraction(mask)}})
    info = DatasetInfo(**INFO, version=f"{MAPPING} sha256 {sha256_file(mapping)}")
    return Draft(tasks=tasks, pipelines=["cv2-telea", "cv2-ns"], scorers=["brushbench", "latency"],
                 description=info.sentence(len(tasks), f"Masks: {opts.painting}."), extra_files=extra,
                 sweep=["painting"] if opts.painting == "both" else [], primary="brushbench.psnr_unmasked")
