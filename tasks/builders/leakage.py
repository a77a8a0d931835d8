"""The mask-leakage pitfall sweep (``editbench suite build mask-leakage-sweep --from SUITE``).

Pitfall: a noisy or low-quality kept region pollutes what a pipeline generates inside the mask (the
model continues the noise it sees around the hole); the usual fix is to denoise or blur the source
slightly before editing. This sweep makes the first factor measurable: every task of the base suite
becomes one task per noise level ``--sigmas`` (standard deviation, in 0-255 grey levels), whose source
image carries Gaussian noise of that sigma in the kept region only (mask = 0; the region to regenerate
is left untouched), drawn from a generator seeded by ``--noise-seed`` and the task's index, so a rebuild
writes the same pixels. Noisy sources are written next to the new suite in ``<suite>.noisy/``; the
clean source becomes the task's ``reference`` when it had none. Meta ``noise_sigma`` is the declared
sweep axis; sigma 0 keeps the task's own image.

The second factor of the pitfall, a pre-denoise option of the adapters, is not an adapter option
today: sweep it by running this suite against a pipeline with and without a denoising step of its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, load_mask
from tasks.builders.common import Draft, beside, png_bytes
from tasks.builders.sweeps import SweepOptions, _draft, base_draft


class LeakageOptions(SweepOptions):
    sigmas: list[float] = [0.0, 8.0, 24.0]   # noise std in the kept region, grey levels (0-255)
    noise_seed: int = 0                      # noise generator seed (with the task index)


def noisy_kept_region(image: np.ndarray, mask: np.ndarray, *, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` (uint8 (H, W, 3)) with N(0, sigma^2) noise added where ``mask`` (H, W) is 0, clipped to 0-255."""
    noise = rng.normal(0.0, sigma, image.shape)
    keep = (np.asarray(mask) == 0)[..., None]
    out = np.where(keep, image.astype(np.float64) + noise, image.astype(np.float64))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def draft_leakage(opts: LeakageOptions) -> Draft:
    if any(s < 0 for s in opts.sigmas) or not opts.sigmas:
        raise EditbenchError(f"--sigmas {opts.sigmas} must be one or more noise levels >= 0.")
    suite, tasks, keep, pkgs = base_draft(opts)
    out_dir = beside(opts, "noisy")
    extra: dict[Path, bytes] = {}
    swept = []
    for i, t in enumerate(tasks):
        if t.get("image") is None or t.get("mask") is None:
            raise EditbenchError(f"task {t['task_id']} of suite {suite.name} has no image or mask; the mask-leakage "
                                 "sweep adds noise outside a mask.")
        img = load_image(t["image"])
        mask = load_mask(t["mask"] if not isinstance(t["mask"], Path) else str(t["mask"]), shape=img.shape[:2],
                         where=f"task {t['task_id']}")
        for sigma in opts.sigmas:
            task = {**t, "task_id": f"{t['task_id']}-sigma{sigma:g}",
                    "params": {**t.get("params", {}), "noise_sigma": float(sigma)}}
            if sigma > 0:
                rng = np.random.default_rng([opts.noise_seed, i, int(round(sigma * 1000))])
                path = out_dir / f"{task['task_id']}.png"
                extra[path] = png_bytes(noisy_kept_region(img, mask, sigma=sigma, rng=rng))
                task["image"] = path
                task["reference"] = t.get("reference") or t["image"]
            swept.append(task)
    return _draft(suite, swept, keep, pkgs, f"Mask-leakage sweep: kept-region noise sigma {opts.sigmas}", extra,
                  sweep=["noise_sigma"])
