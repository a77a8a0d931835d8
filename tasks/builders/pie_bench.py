"""``pie-bench``: a suite from PIE-Bench (PnPInversion, Ju et al. 2024) in its own layout.

``--root`` is the folder its users unpack (``data/`` in PnPInversion)::

    mapping_file.json                  {id: {image_path, original_prompt, editing_prompt, editing_instruction,
                                             editing_type_id, blended_word, mask}}
    annotation_images/<image_path>     the 512 x 512 source images (700, in 10 edit types)

One task per entry; the task id is the entry's 12-digit id (sanitised; the original in ``meta.source_id``).

- ``mask``: PIE's flat 0-indexed RLE decoded as PIE's evaluation does (border forced to 1; 1 = edit
  region = our 1 = regenerate), written as a PNG beside the suite (``<suite>.masks/<id>.png``);
- ``prompt``: ``editing_prompt`` with its ``[`` ``]`` stripped (what PIE's CLIP metrics read); the raw
  prompt, ``original_prompt``, ``blended_word`` and ``editing_instruction`` are kept in meta;
- ``kind``: ``inpaint`` (default: the edit region is regenerated with the target prompt, so mask-based
  pipelines and the classical floors run it) or ``instruct`` (``instruction`` = ``editing_instruction``);
- ``meta.editing_type_id`` ("0".."9") is the suite's declared report axis (``sweep``), ``meta.image_path``
  is what the ``precomputed`` pipeline's ``pie-bench`` layout reads outputs by.

Default scorers ``pie`` (the PIE-Bench protocol, scorers/pie.py) and ``latency``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from harness.core.errors import EditbenchError
from tasks.builders.benchmark_formats import (
    DatasetInfo,
    field,
    inside,
    pie_mask,
    read_json_mapping,
    sanitise_id,
    sha256_file,
    strip_brackets,
)
from tasks.builders.common import BuildOptions, Draft, beside, mask_fraction, png_bytes

MAPPING = "mapping_file.json"
IMAGES = "annotation_images"
SIDE = 512
INFO = dict(name="PIE-Bench", source="PnPInversion, github.com/cure-lab/PnPInversion (data/mapping_file.json, "
                                     "data/annotation_images/)",
            licence="as stated by the PnPInversion repository and its data form (research use); images are "
                    "collected from public sources and keep their own terms")


class PieBenchOptions(BuildOptions):
    root: Path                                         # the folder holding mapping_file.json and annotation_images/
    task_kind: Literal["inpaint", "instruct"] = "inpaint"   # how the edit is posed to pipelines (--kind; module docstring)
    n: int | None = None                               # first N entries (in the mapping file's order)


def image_side(path: Path) -> tuple[int, int]:
    """(width, height) from the image header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as e:
        raise EditbenchError(f"image {path} cannot be read as an image ({type(e).__name__}).") from None


def draft_pie_bench(opts: PieBenchOptions) -> Draft:
    root = Path(opts.root).resolve()
    mapping = root / MAPPING
    entries = read_json_mapping(mapping, what="PIE-Bench mapping file")
    masks_dir = beside(opts, "masks")
    tasks, extra = [], {}
    for key, item in list(entries.items())[: opts.n] if opts.n else entries.items():
        where = f"{mapping} entry {key!r}"
        rel = field(item, "image_path", str, where=where)
        image = inside(root / IMAGES, rel, where=f"{where} field 'image_path'")
        if image_side(image) != (SIDE, SIDE):
            raise EditbenchError(f"{where} field 'image_path': {image} is {image_side(image)[0]}x"
                                 f"{image_side(image)[1]}; PIE-Bench images and masks are {SIDE}x{SIDE}.")
        mask = pie_mask(field(item, "mask", list, where=where), where=f"{where} field 'mask'")
        editing = field(item, "editing_prompt", str, where=where)
        original = field(item, "original_prompt", str, where=where)
        etype = item.get("editing_type_id")
        if not isinstance(etype, (str, int)) or isinstance(etype, bool) or str(etype) == "":
            raise EditbenchError(f"{where}: field 'editing_type_id' must be a string such as \"0\", not {etype!r}.")
        instruction = item.get("editing_instruction", "")
        if not isinstance(instruction, str) or (opts.task_kind == "instruct" and not instruction.strip()):
            raise EditbenchError(f"{where}: field 'editing_instruction' must be a non-empty string for --kind instruct.")
        blended = item.get("blended_word", "")
        tid = sanitise_id(key)
        mask_path = masks_dir / f"{tid}.png"
        extra[mask_path] = png_bytes(mask)
        task = {"task_id": tid, "kind": opts.task_kind, "image": image, "mask": mask_path,
                "prompt": strip_brackets(editing),
                "meta": {"source_id": str(key), "image_path": rel, "editing_type_id": str(etype),
                         "original_prompt": original, "editing_prompt": editing,
                         "editing_instruction": instruction, "blended_word": str(blended),
                         "mask_fraction": mask_fraction(mask)}}
        if opts.task_kind == "instruct":
            task["instruction"] = instruction
        tasks.append(task)
    info = DatasetInfo(**INFO, version=f"{MAPPING} sha256 {sha256_file(mapping)}")
    return Draft(tasks=tasks, pipelines=["cv2-telea", "cv2-ns"] if opts.task_kind == "inpaint" else ["instruct-pix2pix"],
                 scorers=["pie", "latency"], description=info.sentence(len(tasks)), extra_files=extra,
                 sweep=["editing_type_id"], primary="pie.psnr_unedited")
