"""A worked example of an editbench plugin: one pipeline and one scorer in a package of their own.

Installed, a distribution like this one adds its entries through entry points (see this folder's
``*.dist-info/entry_points.txt``, which a ``pyproject.toml`` writes on ``pip install``)::

    [project.entry-points."editbench.pipelines"]
    mean-fill = "editbench_example_plugin:MeanFill"

    [project.entry-points."editbench.scorers"]
    brightness = "editbench_example_plugin:Brightness"

Nothing here imports more than the editbench layers it builds on.
"""

from __future__ import annotations

import numpy as np

from harness.pipelines.base import StageTimer
from harness.pipelines.editing import EditPipeline
from harness.pipelines.imaging import EditInputs
from scorers.base import Metric, Scorer


class MeanFill(EditPipeline):
    """Fills the mask with the mean colour of the kept region (a floor that any real inpainter beats)."""

    name = "mean-fill"

    def edit(self, inputs: EditInputs, task, seed: int, timer: StageTimer) -> np.ndarray:
        with timer.stage("inpaint"):
            out = inputs.canvas.copy()
            kept = inputs.canvas[~inputs.mask]
            out[inputs.mask] = kept.mean(axis=0).round().astype(np.uint8) if len(kept) else 128
        return out


class Brightness(Scorer):
    """Mean brightness of the output in [0, 1] (provenance: never ranked)."""

    name = "brightness"
    metrics = {"mean": Metric("none", role="provenance", range=(0.0, 1.0))}

    def score(self, task, output) -> dict[str, float]:
        return {"mean": float(np.asarray(output.image, dtype=np.float64).mean() / 255.0)}
