"""The mask stage: a task's SAM recipe becomes one stored mask, computed once per (task, mask generator).

The first pipeline actor that reaches a task with a SAM recipe computes its mask (holding a file lock,
so actors of other pipelines wait instead of computing it again) and writes, under the run directory::

    masks/<generator>/<task_id>.png    the mask, 255 = regenerate (after ``invert``)
    masks/<generator>/<task_id>.json   {"latency_mask_ms", "generator", "weights", "pixels", "error"}

Every pipeline then edits that stored mask (the task's ``mask`` becomes the PNG's path), scorers compare
against it, and every row of the task carries the same measured ``latency_mask_ms``. Dilation: the stored
mask *is* the task's mask; a ``mask_dilate`` override grows it once, in the pipeline, like any mask.
A mask that is empty or covers the whole image is an error naming the task (every row of the task).
"""

from __future__ import annotations

import fcntl
import json
from contextlib import contextmanager
from pathlib import Path
from typing import TypedDict

import numpy as np

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image
from harness.core.storage import atomic_write, atomic_write_text
from harness.masks import build_generator, is_sam_recipe, mask_path, parse_recipe, sam
from tasks.schema import Task


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_png(mask: np.ndarray, path: Path) -> None:
    from PIL import Image

    atomic_write(path, lambda tmp: Image.fromarray(mask.astype(np.uint8) * 255).save(tmp, format="PNG"))


def compute_mask(task: Task) -> tuple[np.ndarray, float, StoredMask]:
    """Run the task's mask generator: (bool (H, W) mask with ``invert`` applied, ms, provenance).
    Raises EditbenchError naming the task when the mask is empty or covers the whole image."""
    recipe = parse_recipe(task.mask, where=f"task {task.task_id}: mask")
    image = load_image(task.image)
    gen = sam.loaded(build_generator(recipe))
    p = recipe.sam
    raw, ms = sam.timed_segment(gen, image, box=p.box, points=list(p.points), labels=list(p.labels),
                            rule=recipe.multimask)
    mask = ~raw if recipe.invert else raw
    info: StoredMask = {"generator": recipe.model, "weights": "random" if gen.random_weights else str(gen.source()),
                        "latency_mask_ms": ms, "pixels": int(mask.sum()), "invert": recipe.invert}
    if not mask.any():
        info["error"] = f"task {task.task_id}: the {recipe.model} mask is empty (no pixel to regenerate)"
    elif mask.all():
        info["error"] = f"task {task.task_id}: the {recipe.model} mask covers the whole image (nothing kept)"
    return mask, ms, info


class StoredMask(TypedDict, total=False):
    """The record of a task's stored mask (``masks/<generator>/<task_id>.json``)."""

    generator: str            # the MASK_GENERATORS name
    weights: str              # "random" or the weights folder
    latency_mask_ms: float    # measured once, carried by every row of the task
    pixels: int               # pixels to regenerate
    invert: bool
    error: str                # set when the mask is unusable (empty, or the whole image)


def prepare_mask(task: Task, out: str | Path) -> tuple[Task, StoredMask | None]:
    """(task as the pipelines run it, the stored mask's record): a task with a SAM recipe gets the stored
    mask (computed here unless another actor already stored it) and its record (``latency_mask_ms``,
    ``generator``, ``weights``: "random" or the folder, ``pixels``); any other task is returned as is with
    None. A failed mask raises EditbenchError (the same message for every pipeline)."""
    if not is_sam_recipe(task.mask):
        return task, None
    png = mask_path(out, task)
    meta = png.with_suffix(".json")
    with _locked(png.with_suffix(".lock")):
        if meta.is_file():
            info: StoredMask = json.loads(meta.read_text(encoding="utf-8"))
        else:
            try:
                mask, _, info = compute_mask(task)
            except EditbenchError as e:
                info = {"error": str(e).rstrip(".")}
            else:
                if "error" not in info:
                    _write_png(mask, png)
            atomic_write_text(meta, json.dumps(info, indent=1))
    if info.get("error"):
        raise EditbenchError(f"{info['error']}.")
    return task.model_copy(update={"mask": str(png)}), info
