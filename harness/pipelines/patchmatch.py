"""``patchmatch``: PatchMatch inpainting (Barnes et al. 2009) via the ``pypatchmatch`` package.

Chosen over ``patchmatch-cython`` by measurement (``bench/patchmatch_choice.py``, docs/pipelines.md):
on skimage's 512x512 astronaut with a 150x140 hole, pypatchmatch took 0.73 s vs 0.98 s (medians) with a
slightly higher hole PSNR, both deterministic for a fixed seed; pypatchmatch also ships one
Python-version-independent wheel.
The seed goes to the library's global RNG (``set_random_seed``), so one actor runs one job at a time.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from harness.pipelines.base import StageTimer
from harness.pipelines.editing import EditOptions, EditPipeline
from harness.pipelines.imaging import EditInputs, resize
from harness.pipelines.opencv import work_inputs
from tasks.schema import Task


class PatchMatchOptions(EditOptions):
    patch_size: int = Field(3, ge=1)   # patch radius: patches span (2*patch_size+1)^2 px


def patchmatch_inpaint(image: np.ndarray, mask: np.ndarray, *, patch_size: int, seed: int) -> np.ndarray:
    """Fill RGB uint8 (H, W, 3) where bool ``mask`` is True; pixels outside the mask are unchanged."""
    import patchmatch

    patchmatch.set_random_seed(int(seed) & 0x7FFFFFFF)
    if not mask.any():
        return image.copy()
    return np.asarray(patchmatch.inpaint(image, mask, patch_size=patch_size), dtype=np.uint8)


class PatchMatch(EditPipeline):
    name = "patchmatch"
    Options = PatchMatchOptions

    def edit(self, inputs: EditInputs, task: Task, seed: int, timer: StageTimer) -> np.ndarray:
        image, mask = work_inputs(inputs, self.options.resolution)
        with timer.stage("inpaint"):
            out = patchmatch_inpaint(image, mask, patch_size=self.options.patch_size, seed=seed)
        return resize(out, inputs.canvas.shape[:2])
