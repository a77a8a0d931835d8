"""``precomputed``: score outputs made by another tool, read from that tool's own output folder.

A published method usually ships its own generation script; this adapter reads what it wrote, so its
outputs are scored, reported and gated exactly like editbench's own::

    pipelines:
      - {name: precomputed, label: p2p, options: {root: output/p2p, layout: pie-bench}}

``root`` is the method's own output folder (relative paths: to the working directory), ``layout`` how a
task's output file is found under it:

- ``pie-bench``: ``<root>/annotation_images/<meta.image_path>`` (PnPInversion writes
  ``output/<method>/annotation_images/<same path as the source>``). A non-square output is cropped to its
  bottom-right 512 x 512, as PIE-Bench's ``evaluate.py`` does (methods save ``[source | edited]`` side by
  side; the edited image is the right-most one);
- ``brushbench``: ``<root>/<meta.image_path>`` (BrushNet's ``evaluate_brushnet.py`` saves each output
  under its ``--image_save_path`` at the source's own ``image`` path);
- ``gedit``: ``<root>/fullset/<meta.task_type>/<meta.language>/<meta.source_id>.png`` (GEdit-Bench's
  ``results/<model>/fullset/...``; ``root`` = ``results/<model>``);
- ``imgedit``: ``<root>/<meta.source_id>.png`` (ImgEdit-Basic);
- any other string: a pattern holding ``{task_id}``, e.g. ``"{task_id}.png"`` or ``"edits/{task_id}.jpg"``.

Every path must stay inside ``root`` (a task id or meta value with ``..`` cannot reach outside it). A
missing or unreadable file is that row's error, naming the file; the run goes on.

Rows record ``weights: real``: the images come from the method's own, real weights, which this harness
neither loaded nor can vouch for (the pipeline's run.json entry says ``weights: external`` and the
folder read). ``latency_ms`` is NaN unless ``timings`` names a JSON file ``{task_id: milliseconds}``
written by the method's own timing; a task missing from it is NaN too. The seed is not used: a folder
holds one output per task, whatever seeds the run lists.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image
from harness.core.storage import confined
from harness.pipelines.base import Output, Pipeline

LAYOUTS = ("pie-bench", "brushbench", "gedit", "imgedit")
PIE_SIDE = 512


def pie_crop(image: np.ndarray, *, side: int = PIE_SIDE) -> np.ndarray:
    """PIE-Bench's rule: a non-square image is cropped to its bottom-right ``side`` x ``side``
    (``tgt_image.crop((W - 512, H - 512, W, H))``); a square one is kept as it is."""
    h, w = image.shape[:2]
    if h == w:
        return image
    if h < side or w < side:
        raise EditbenchError(f"a non-square PIE-Bench output must be at least {side}x{side} to crop its "
                             f"right-most {side}x{side}; it is {w}x{h}.")
    return image[h - side:, w - side:]


def output_relpath(layout: str, task) -> str:
    """Where ``task``'s output lies under the root, by ``layout`` (module docstring)."""
    meta = task.meta

    def need(name: str) -> str:
        v = meta.get(name)
        if not isinstance(v, str) or not v:
            raise EditbenchError(f"task {task.task_id} has no meta.{name}, which the precomputed layout {layout!r} "
                                 "reads (build the suite with the matching importer).")
        return v

    if layout == "pie-bench":
        return f"annotation_images/{need('image_path')}"
    if layout == "brushbench":
        return need("image_path")
    if layout == "gedit":
        return f"fullset/{need('task_type')}/{need('language')}/{need('source_id')}.png"
    if layout == "imgedit":
        return f"{need('source_id')}.png"
    return layout.format(task_id=task.task_id)


class Precomputed(Pipeline):
    name = "precomputed"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    wall_latency = False        # reading a file is not the method's latency

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

        root: str                        # the method's output folder
        layout: str = "{task_id}.png"    # pie-bench | brushbench | gedit | imgedit | a pattern with {task_id}
        timings: str | None = None       # JSON {task_id: ms} of the method's own latencies

        @field_validator("layout")
        @classmethod
        def _layout(cls, v: str) -> str:
            if v in LAYOUTS:
                return v
            try:
                probe = v.format(task_id="x")
            except (KeyError, IndexError, ValueError):
                raise ValueError(f"layout {v!r} is not one of {list(LAYOUTS)} nor a pattern whose only field is "
                                 "{task_id}") from None
            if "{task_id}" not in v or probe == v:
                raise ValueError(f"layout {v!r} is not one of {list(LAYOUTS)} nor a pattern holding {{task_id}}")
            return v

    _timings: dict[str, float] | None = None

    def _root(self) -> Path:
        return Path(self.options.root).expanduser().resolve()

    def check(self) -> None:
        root = self._root()
        if not root.is_dir():
            raise EditbenchError(f"precomputed pipeline {self.spec.key}: root {root} is not a folder.")
        self._read_timings()

    def _read_timings(self) -> dict[str, float]:
        if self._timings is None:
            self._timings = {}
            if self.options.timings:
                path = Path(self.options.timings).expanduser()
                try:
                    data = json.loads(path.read_text())
                except FileNotFoundError:
                    raise EditbenchError(f"precomputed timings file {path} does not exist.") from None
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise EditbenchError(f"precomputed timings file {path} is not valid JSON.") from None
                bad = [k for k, v in (data.items() if isinstance(data, dict) else [])
                       if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0]
                if not isinstance(data, dict) or bad:
                    raise EditbenchError(f"precomputed timings file {path} must be a JSON object {{task_id: ms >= 0}}"
                                         f"{'; bad entries: ' + str(bad[:3]) if bad else ''}.")
                self._timings = {str(k): float(v) for k, v in data.items()}
        return self._timings

    def output_path(self, task) -> Path:
        """The file this task's output is read from; refuses a path that leaves the root."""
        root = self._root()
        rel = output_relpath(self.options.layout, task)
        try:
            return confined(root, rel)
        except EditbenchError:
            raise EditbenchError(f"precomputed output {rel!r} of task {task.task_id} lies outside the root {root}.") from None

    def execute(self, task, seed: int) -> Output:
        path = self.output_path(task)
        if not path.is_file():
            raise EditbenchError(f"precomputed output {path} of task {task.task_id} does not exist.")
        image = load_image(path)        # an unreadable file: one sentence naming it
        if self.options.layout == "pie-bench":
            try:
                image = pie_crop(image)
            except EditbenchError as e:
                raise EditbenchError(f"precomputed output {path}: {e}") from None
        ms = self._read_timings().get(task.task_id, math.nan)
        return Output(image=np.ascontiguousarray(image), latency_ms=ms,
                      latencies_ms={} if math.isnan(ms) else {"external": ms}, weights="real")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "weights": "external", "root": str(self._root())}

    def resolved(self) -> dict[str, str]:
        return {"device": "none (outputs read from disk)"}
