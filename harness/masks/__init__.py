"""Mask generators (segmenters that turn a box or clicks into a task's mask), registered like pipelines.

A task asks a generator for its mask with a SAM recipe (see docs/suites.md)::

    mask: {sam: {box: [x0, y0, x1, y1]}, model: sam-vit-b}
    mask: {sam: {points: [[x, y], ...], labels: [1, 0, ...]}, invert: true, multimask: best}

The mask stage (:mod:`harness.masks.stage`) runs the generator once per (task, generator) before that
task's edits, stores the mask under ``<out>/masks/<generator>/<task_id>.png`` and hands every pipeline
the stored file as the task's mask. Weights are a transformers ``save_pretrained`` folder: the recipe's
``weights`` path, else ``$EDITBENCH_WEIGHTS/<generator>``; ``weights: random`` builds the published
architecture with random init (latency only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import EditbenchError, format_validation_error
from harness.registry import Registry

MASK_GENERATORS: Registry = Registry("mask generator", {
    "sam-vit-b": "harness.masks.sam:SamVitB",
    "sam-vit-h": "harness.masks.sam:SamVitH",
    "sam2": "harness.masks.sam:Sam2",
})

DEFAULT_GENERATOR = "sam-vit-b"


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


def is_sam_recipe(mask: Any) -> bool:
    return isinstance(mask, dict) and "sam" in mask


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


def absolute_weights(weights: str | None, base: Path) -> str | None:
    """A recipe's weights folder made absolute against ``base`` (the suite file's folder); ``random`` and
    None are returned unchanged."""
    if weights in (None, "random"):
        return weights
    path = Path(weights).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def resolve_recipe_paths(suite, task) -> dict[str, Any]:
    """The SAM recipe of ``task`` with absolute paths: ``reference`` inside the suite's data root (refused
    if it escapes), ``weights`` against the suite file's folder."""
    mask = dict(task.mask)
    if isinstance(mask.get("reference"), str):
        mask["reference"] = str(suite.resolve_path(mask["reference"], field=f"tasks[{task.task_id}].mask.reference"))
    if isinstance(mask.get("weights"), str):
        base = Path(suite.source_path).parent if suite.source_path else Path.cwd()
        mask["weights"] = absolute_weights(mask["weights"], base)
    return mask
