"""Suite validation: every problem of a suite, each named by file, row and task_id, before any run.

Two stages, both collecting every problem instead of stopping at the first:

- schema (:func:`tasks.problems.check_rows`, called by :func:`tasks.schema.load_suite`): unknown fields, wrong types,
  unknown kinds, duplicate ``task_id``, a ``task_id`` that is not a safe file name
  (:data:`harness.core.storage.SAFE_NAME`: ASCII letters, digits and ``. _ - [ ] = ,``, at most
  :data:`harness.core.storage.MAX_NAME_LEN` characters; it names the task's output files);
- content (:func:`validate_suite`, called by the runner's ``build_manifest`` before any pipeline is
  built): missing file, path escaping the data root, unreadable image, mask size differing from its
  image, mask not binary, empty mask, a task without the image/mask its kind needs, malformed
  ``params.outpaint`` / ``params.strength``.

A mask file is *binary* when at most :data:`MAX_GRAY_SHARE` of its pixels have a gray value farther
than :data:`GRAY_MARGIN` from both 0 and 255 (JPEG ringing along the edge stays below that; a soft or
feathered mask, or a photo passed as a mask, does not). It is then thresholded at 127 (harness.core.imageio).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from harness.core.errors import EditbenchError
from harness.core.imageio import ImageTooLarge, load_gray, load_image, mask_from_recipe
from harness.masks import absolute_weights, build_generator, parse_recipe
from tasks.problems import Problem, SuiteInvalid, check_rows, pydantic_problems  # noqa: F401 - part of this API

if TYPE_CHECKING:
    from tasks.schema import Suite

GRAY_MARGIN = 32          # a gray value in (32, 223) is "far from both 0 and 255"
MAX_GRAY_SHARE = 0.02     # more than 2 % such pixels: the mask is not binary
NEEDS_IMAGE = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
NEEDS_MASK = frozenset({"inpaint", "face_regen"})
OUTPAINT_SIDES = ("left", "right", "top", "bottom")


def _check_image(suite: Suite, rel: str, field: str, report) -> tuple[int, int] | None:
    """(H, W) of an image file of the suite, or None after reporting why it is unusable."""
    path = _resolve(suite, rel, field, report)
    if path is None:
        return None
    try:
        return load_image(path).shape[:2]
    except ImageTooLarge as e:
        report(f"{field} {rel!r}: {str(e).rstrip('.')}")
        return None
    except EditbenchError:
        report(f"{field} {rel!r} cannot be read as an image ({path})")
        return None


def _resolve(suite: Suite, rel: str, field: str, report):
    try:
        path = suite.resolve_path(rel, field=field)
    except EditbenchError:
        report(f"{field} {rel!r} escapes the data root {suite.root}")
        return None
    if not path.is_file():
        report(f"{field} {rel!r} does not exist ({path})")
        return None
    return path


def _check_sam_recipe(suite: Suite, mask: dict, shape: tuple[int, int] | None, report, weights_seen: dict) -> None:
    """A SAM recipe: its fields, its prompt inside the image, its reference mask, and its generator's weights
    folder (checked once per generator and weight source; no model is loaded)."""
    from pathlib import Path


    try:
        recipe = parse_recipe(mask, where="mask")
    except EditbenchError as e:
        report(str(e).rstrip("."))
        return
    base = Path(suite.source_path).parent if suite.source_path else Path.cwd()
    recipe = recipe.model_copy(update={"weights": absolute_weights(recipe.weights, base)})
    if shape is not None:
        h, w = shape
        p = recipe.sam
        xy = list(p.points) + ([(p.box[0], p.box[1]), (p.box[2], p.box[3])] if p.box else [])
        if any(not (0 <= x <= w and 0 <= y <= h) for x, y in xy):
            report(f"mask.sam prompt {p.model_dump(exclude_defaults=True)} lies partly outside the {w}x{h} image")
    if recipe.reference is not None:
        _check_mask(suite, recipe.reference, shape, report, weights_seen)
    key = (recipe.model, recipe.weights)
    if key not in weights_seen:
        try:
            build_generator(recipe).check()
            weights_seen[key] = None
        except EditbenchError as e:
            weights_seen[key] = str(e).rstrip(".")
            report(f"mask.model {recipe.model}: {weights_seen[key]}")


def _check_mask(suite: Suite, mask, shape: tuple[int, int] | None, report, weights_seen: dict | None = None) -> None:
    if isinstance(mask, dict) and "sam" in mask:
        _check_sam_recipe(suite, mask, shape, report, {} if weights_seen is None else weights_seen)
        return
    if isinstance(mask, dict):
        if shape is None:
            return
        try:
            m = mask_from_recipe(mask, shape)
        except (EditbenchError, TypeError, ValueError):
            report(f"mask recipe {mask} is not one of box [x0, y0, x1, y1], ellipse [cx, cy, rx, ry], full: true")
            return
        if not m.any():
            report(f"mask recipe {mask} is empty on the {shape[1]}x{shape[0]} image (no pixel to regenerate)")
        return
    path = _resolve(suite, mask, "mask", report)
    if path is None:
        return
    try:
        gray = load_gray(path)
    except ImageTooLarge as e:
        report(f"mask {mask!r}: {str(e).rstrip('.')}")
        return
    except EditbenchError:
        report(f"mask {mask!r} cannot be read as an image ({path})")
        return
    if shape is not None and gray.shape != tuple(shape):
        report(f"mask {mask!r} is {gray.shape[1]}x{gray.shape[0]} but its image is {shape[1]}x{shape[0]}")
    far = ((gray > GRAY_MARGIN) & (gray < 255 - GRAY_MARGIN)).mean()
    if far > MAX_GRAY_SHARE:
        report(f"mask {mask!r} is not binary: {100 * far:.1f} % of its pixels are gray values between "
               f"{GRAY_MARGIN} and {255 - GRAY_MARGIN} (at most {100 * MAX_GRAY_SHARE:g} % allowed)")
    elif not (gray > 127).any():
        report(f"mask {mask!r} is empty (no pixel above 127, i.e. nothing to regenerate)")


def _check_params(params: dict, report) -> None:
    op = params.get("outpaint")
    if op is not None:
        ok = (isinstance(op, dict) and set(op) <= set(OUTPAINT_SIDES)
              and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in op.values())
              and any(op.values()))
        if not ok:
            report(f"params.outpaint {op} must map some of {list(OUTPAINT_SIDES)} to pixel counts >= 0, "
                   "at least one above 0")
    s = params.get("strength")
    if s is not None and not (isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s)
                              and 0.0 < s <= 1.0):
        report(f"params.strength {s!r} must be a number in (0, 1]")


def param_kind(v: Any) -> str | None:
    """The Parquet column kind a ``param.<name>`` value becomes: "bool", "number" (int and float share a
    float column), "string"; None for values that are not stored as columns (lists, mappings, None)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return None


def _check_param_kinds(params: dict, first: dict[str, tuple[str, str]], where: str, report) -> None:
    """Each ``param.<name>`` column holds one kind across the suite (a shard of mixed kinds cannot be
    written); ``first`` maps a param name to (kind, where) of its first use."""
    for name, v in params.items():
        kind = param_kind(v)
        if kind is None:
            continue
        if kind == "number" and not (-(2**63) <= v < 2**63 if isinstance(v, int) else True):
            report(f"params.{name} {v!r} does not fit a 64-bit integer column")
        k0, where0 = first.setdefault(name, (kind, where))
        if kind != k0:
            report(f"params.{name} is a {kind} here but a {k0} at {where0}; one param holds one kind of value "
                   "across a suite (it becomes one Parquet column)")


def validate_suite(suite: Suite) -> list[Problem]:
    """Every content problem of ``suite`` (files, images, masks, params), in task order; [] when usable.

    Reads every referenced image once; does not load any model.
    """
    file0 = suite.source_path or f"suite {suite.name}"
    try:
        root = suite.root
    except EditbenchError as e:
        return [Problem(file0, "", None, str(e).rstrip("."))]
    problems: list[Problem] = []
    if not root.is_dir():
        problems.append(Problem(file0, "", None, f"data_root {suite.data_root!r} is not a folder ({root})"))
    seen: dict[str, str] = {}
    kinds: dict[str, tuple[str, str]] = {}
    weights_seen: dict = {}   # (mask generator, weights) -> problem or None: a missing folder is named once
    for i, t in enumerate(suite.tasks):
        file, row = suite.origin(i)

        def report(msg: str, _f=file, _r=row, _t=t.task_id) -> None:
            problems.append(Problem(_f, _r, _t, msg))

        if t.task_id in seen:
            report(f"duplicate task_id (first used at {seen[t.task_id]})")
        seen.setdefault(t.task_id, row)
        shape = None
        if isinstance(t.image, str):
            shape = _check_image(suite, t.image, "image", report)
        elif t.kind in NEEDS_IMAGE:
            report(f"a {t.kind} task needs an image")
        for field in ("reference", "target", "control"):
            v = getattr(t, field)
            if isinstance(v, str):
                _check_image(suite, v, field, report)
        if t.mask is not None:
            _check_mask(suite, t.mask, shape, report, weights_seen)
        elif t.kind in NEEDS_MASK:
            report(f"a {t.kind} task needs a mask")
        _check_params(t.params, report)
        _check_param_kinds(t.params, kinds, f"{row} (task_id {t.task_id!r})" if file == suite.origin(0)[0]
                           else f"{file} {row} (task_id {t.task_id!r})", report)
    return problems


def check_suite(suite: Suite) -> None:
    """Raise one :class:`SuiteInvalid` listing every problem of ``suite``; return when it is usable."""
    problems = validate_suite(suite)
    if problems:
        raise SuiteInvalid(suite.name, problems)
