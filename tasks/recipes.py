"""Mask recipes a task may give instead of a mask file: ``mask: {sam: {...}, model, weights, reference}``.

What a recipe *is* (and how its paths resolve against a suite) is part of the task contract; the mask
generators that compute one are adapters (:mod:`harness.masks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def is_sam_recipe(mask: Any) -> bool:
    return isinstance(mask, dict) and "sam" in mask


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
