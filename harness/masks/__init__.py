"""Mask generators (segmenters that turn a box or clicks into a task's mask), registered like pipelines.

A task asks a generator for its mask with a SAM recipe (see docs/suites.md)::

    mask: {sam: {box: [x0, y0, x1, y1]}, model: sam-vit-b}
    mask: {sam: {points: [[x, y], ...], labels: [1, 0, ...]}, invert: true, multimask: best}

The mask stage (:mod:`harness.execution.mask_stage`) runs the generator once per (task, generator) before that
task's edits, stores the mask under ``<out>/masks/<generator>/<task_id>.png`` and hands every pipeline
the stored file as the task's mask. Weights are a transformers ``save_pretrained`` folder: the recipe's
``weights`` path, else ``$EDITBENCH_WEIGHTS/<generator>``; ``weights: random`` builds the published
architecture with random init (latency only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.core.errors import EditbenchError, format_validation_error
from harness.core.registry import Registry
from harness.core.storage import check_name, confined
from tasks.recipes import absolute_weights, is_sam_recipe, resolve_recipe_paths  # noqa: F401 - part of this API
from tasks.schema import Task

MASK_GENERATORS: Registry = Registry("mask generator", group="editbench.masks", entries={
    "sam-vit-b": "harness.masks.sam:SamVitB",
    "sam-vit-h": "harness.masks.sam:SamVitH",
    "sam2": "harness.masks.sam:Sam2",
})

DEFAULT_GENERATOR = "sam-vit-b"
MASKS_DIR = "masks"   # a run's stored masks: <out>/masks/<generator>/<task_id>.png (harness.execution.mask_stage)


class SamPrompt(BaseModel):
    """What SAM is asked to segment: a box and/or clicks, in pixels of the task's image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    box: tuple[float, float, float, float] | None = None   # x0, y0, x1, y1
    points: list[tuple[float, float]] = Field(default_factory=list)   # (x, y) clicks
    labels: list[Literal[0, 1]] = Field(default_factory=list)         # 1 = on the object, 0 = not on it

    @model_validator(mode="after")
    def _some_prompt(self):
        if self.box is None and not self.points:
            raise ValueError("give a box [x0, y0, x1, y1] and/or points [[x, y], ...]")
        if len(self.labels) != len(self.points):
            raise ValueError(f"{len(self.points)} points need as many labels (1 = object, 0 = background), "
                             f"got {len(self.labels)}")
        if self.box is not None and not (self.box[0] < self.box[2] and self.box[1] < self.box[3]):
            raise ValueError(f"box {list(self.box)} needs x0 < x1 and y0 < y1")
        return self


class SamRecipe(BaseModel):
    """A task mask computed by a mask generator (``mask: {sam: {...}, ...}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sam: SamPrompt
    model: str = DEFAULT_GENERATOR      # a MASK_GENERATORS name
    weights: str | None = None          # save_pretrained folder (relative: to the suite file's folder), "random",
                                        # or None = $EDITBENCH_WEIGHTS/<model>
    invert: bool = False                # True: regenerate everything but the segmented object
    multimask: Literal["best", "largest", "smallest"] = "best"   # which of SAM's 3 candidates: highest
                                                                 # predicted IoU, most or fewest pixels
    reference: str | None = None        # reference mask file (data-root relative), for the mask_iou scorer

    @model_validator(mode="after")
    def _known_model(self):
        if self.model not in MASK_GENERATORS:
            raise ValueError(f"unknown mask generator {self.model!r}; registered ones are {MASK_GENERATORS.names()}")
        return self


def parse_recipe(mask: dict[str, Any], *, where: str = "mask") -> SamRecipe:
    """The SAM recipe of a task mask; a bad recipe is one EditbenchError sentence."""
    try:
        return SamRecipe(**mask)
    except ValidationError as e:
        raise EditbenchError(format_validation_error(e, where=where)) from None
    except TypeError:
        raise EditbenchError(f"{where}: a SAM recipe is a mapping such as {{sam: {{box: [x0, y0, x1, y1]}}}}.") from None


def get_generator_class(name: str):
    return MASK_GENERATORS.get(name)


def build_generator(recipe: SamRecipe):
    """The generator a recipe names, with its weight source (not loaded)."""
    return get_generator_class(recipe.model)(weights=recipe.weights)


def mask_path(out: str | Path, task: Task) -> Path:
    """Where the stage stores the mask of ``task`` (a task with a SAM recipe) under the run ``out``."""
    recipe = parse_recipe(task.mask, where=f"task {task.task_id}: mask")
    check_name(task.task_id, what="task_id", where="mask path")
    return confined(out, MASKS_DIR, recipe.model, f"{task.task_id}.png")


def with_stored_mask(task: Task, out: str | Path):
    """``task`` as scorers see it: its SAM recipe replaced by the stored mask's path, the recipe kept as
    meta ``mask_recipe`` (``invert``, ``reference``: what the subject and mask_iou scorers read). A task
    without a SAM recipe is returned unchanged."""
    if not is_sam_recipe(task.mask):
        return task
    return task.model_copy(update={"mask": str(mask_path(out, task)),
                                   "meta": {**task.meta, "mask_recipe": dict(task.mask)}})
