"""Pitfall sweeps: parameter grids over the tasks of an existing suite (``--from SUITE``).

Every task of the base suite becomes one task per grid point, with the point among its overrides (what
pipelines apply: ``mask_dilate``, ``guidance``) or meta (labels: ``mask_scale``, ``prompt_scope``), appended
to the task_id, and the suite declares the grid's names as its ``sweep:`` axes (reports group by them):

- ``dilation-sweep``: override ``mask_dilate`` in 0, 8, 16 px (seams appear at un-dilated mask edges);
- ``guidance-mask-sweep``: ``params.guidance`` x mask size: the mask scaled about the centre of its
  bounding box by ``params.mask_scale`` (box/ellipse recipes analytically; mask files are rescaled and
  written next to the new suite in ``<suite>.masks/``), with ``params.mask_fraction`` recomputed
  (high guidance saturates small masks);
- ``prompt-scope-sweep``: ``params.prompt_scope`` = ``whole`` (the task's prompt describes the whole
  image) or ``object`` (the prompt is only the object: the task's ``params.object_prompt`` or
  ``--object-prompt``).

Pipeline options (not task params) are swept with a run spec's ``grid:`` key instead (docs/suites.md).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, load_mask
from tasks.builders.common import FILE_FIELDS, BuildOptions, Draft, beside, mask_fraction, png_bytes
from tasks.loading import load_suite
from tasks.validate import check_suite

PKG = "pkg:"


class SweepOptions(BuildOptions):
    from_suite: Path                 # the base suite (CLI --from)
    n: int | None = None             # first N base tasks


def base_draft(opts: SweepOptions) -> tuple[Any, list[dict], str | None, tuple[str, ...]]:
    """(suite, task dicts with absolute Paths, data_root to keep, pkg roots) of the base suite."""
    suite = load_suite(opts.from_suite)
    check_suite(suite)
    pkgs = set()
    tasks = []
    for t in suite.tasks[: opts.n] if opts.n else suite.tasks:
        d = t.model_dump(mode="json", exclude={"suite"})
        for f in FILE_FIELDS:
            if isinstance(d.get(f), str):
                if d[f].startswith(PKG):
                    pkgs.add(PKG + d[f][len(PKG):].split("/", 1)[0])
                d[f] = suite.resolve_path(d[f], field=f)
        tasks.append(d)
    keep = suite.data_root if suite.data_root.startswith(PKG) else None
    return suite, tasks, keep, tuple(sorted(pkgs))


def _grid(tasks: list[dict], axes: dict[str, list], fmt=lambda k, v: f"{k}{v:g}") -> list[dict]:
    out = []
    for t in tasks:
        for point in itertools.product(*axes.values()):
            pt = dict(zip(axes, point))
            suffix = "-".join(fmt(k, v) for k, v in pt.items())
            out.append({**t, "task_id": f"{t['task_id']}-{suffix}", "params": {**t.get("params", {}), **pt}})
    return out


def _draft(suite, tasks, keep, pkgs, what: str, extra=None, *, sweep: list[str]) -> Draft:
    pipelines = [p.model_dump(mode="json", exclude_defaults=True) if (p.label or p.options or p.weights) else p.name
                 for p in suite.pipelines]
    return Draft(tasks=tasks, pipelines=pipelines, scorers=list(suite.scorers),
                 description=f"{what} over suite {suite.name} v{suite.version}.", data_root=keep, pkg_roots=pkgs,
                 extra_files=extra or {}, sweep=sweep)


class DilationOptions(SweepOptions):
    dilations: list[int] = [0, 8, 16]   # px, params.mask_dilate


def draft_dilation(opts: DilationOptions) -> Draft:
    suite, tasks, keep, pkgs = base_draft(opts)
    masked = [t for t in tasks if t.get("mask") is not None]
    if not masked:
        raise EditbenchError(f"suite {opts.from_suite} has no masked task to sweep mask dilation over.")
    return _draft(suite, _grid(masked, {"mask_dilate": list(opts.dilations)}, lambda k, v: f"dil{v}"), keep, pkgs,
                  f"Mask dilation sweep {opts.dilations} px", sweep=["mask_dilate"])


class GuidanceMaskOptions(SweepOptions):
    guidance: list[float] = [1.5, 4.0, 7.5, 12.0]   # params.guidance
    mask_scales: list[float] = [0.5, 1.0, 1.5]      # linear scale of the mask about its box centre


def scale_mask(mask: np.ndarray, s: float) -> np.ndarray:
    """``mask`` (bool H, W) scaled by ``s`` about the centre of its bounding box (nearest neighbour)."""
    import cv2

    ys, xs = np.nonzero(mask)
    if not len(xs):
        return mask.copy()
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    m = np.float32([[s, 0, (1 - s) * cx], [0, s, (1 - s) * cy]])
    h, w = mask.shape
    return cv2.warpAffine(mask.astype(np.uint8), m, (w, h), flags=cv2.INTER_NEAREST) > 0


def scale_recipe(recipe: dict, s: float) -> dict:
    if "box" in recipe:
        x0, y0, x1, y1 = recipe["box"]
        cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, s * (x1 - x0) / 2, s * (y1 - y0) / 2
        return {"box": [int(round(cx - hw)), int(round(cy - hh)), int(round(cx + hw)), int(round(cy + hh))]}
    if "ellipse" in recipe:
        cx, cy, rx, ry = recipe["ellipse"]
        return {"ellipse": [cx, cy, round(rx * s, 1), round(ry * s, 1)]}
    raise EditbenchError(f"mask recipe {recipe} cannot be scaled (only box and ellipse).")


def draft_guidance_mask(opts: GuidanceMaskOptions) -> Draft:
    suite, tasks, keep, pkgs = base_draft(opts)
    out_dir = beside(opts, "masks")
    extra: dict[Path, bytes] = {}
    sized = []
    for t in tasks:
        if t.get("mask") is None or not isinstance(t.get("image"), Path):
            continue
        shape = load_image(t["image"]).shape[:2]
        base = load_mask(t["mask"] if isinstance(t["mask"], dict) else str(t["mask"]), shape=shape)
        for s in opts.mask_scales:
            if s == 1.0:
                mask, m = t["mask"], base
            elif isinstance(t["mask"], dict):
                mask = scale_recipe(t["mask"], s)
                m = load_mask(mask, shape=shape)
            else:
                m = scale_mask(base, s)
                mask = out_dir / f"{t['task_id']}-scale{s:g}.png"
                extra[mask] = png_bytes(m)
            sized.append({**t, "mask": mask, "task_id": f"{t['task_id']}-scale{s:g}",
                          "params": {**t.get("params", {}), "mask_scale": s, "mask_fraction": mask_fraction(m)}})
    if not sized:
        raise EditbenchError(f"suite {opts.from_suite} has no masked image task to sweep mask size over.")
    return _draft(suite, _grid(sized, {"guidance": list(opts.guidance)}, lambda k, v: f"g{v:g}"), keep, pkgs,
                  f"Guidance {opts.guidance} x mask scale {opts.mask_scales} sweep", extra,
                  sweep=["guidance", "mask_scale"])


class PromptScopeOptions(SweepOptions):
    object_prompt: str | None = None   # object-only prompt for tasks without params.object_prompt


def draft_prompt_scope(opts: PromptScopeOptions) -> Draft:
    suite, tasks, keep, pkgs = base_draft(opts)
    out = []
    for t in tasks:
        obj = t.get("meta", {}).get("object_prompt") or opts.object_prompt
        if not obj:
            raise EditbenchError(f"task {t['task_id']} of {opts.from_suite} has no params.object_prompt; "
                                 "give --object-prompt.")
        for scope, prompt in (("whole", t.get("prompt", "")), ("object", obj)):
            out.append({**t, "task_id": f"{t['task_id']}-{scope}", "prompt": prompt,
                        "params": {**t.get("params", {}), "prompt_scope": scope}})
    return _draft(suite, out, keep, pkgs, "Whole-image vs object-only prompt sweep", sweep=["prompt_scope"])
