"""Does the gate catch a plain regression on real photos, and never pass a broken pipeline?

    python -m bench.gate_power [--tasks 14] [--seeds 3] [--size 256] [--out DIR]
                               [--reconstruction-primary texture.score,fidelity.ssim]

Designs, built from scikit-image's colour photos (longer side reduced to ``--size`` px, default 256,
to keep PatchMatch affordable on a small machine) with the suite builders (``tasks.builders``):
- removal: ``draft_removal`` with ``--boxes`` over the two most textured squares of each photo (side
  0.2 x the short side), no ground truth; primary from the goal table (``texture.score``);
- reconstruction: ``draft_reconstruction`` with two holes per photo, the photo as ground truth; its
  primary from the goal table when the run has one (LPIPS weights, the reference metric), else the
  ``--reconstruction-primary`` stand-in, declared as a suite would declare it.

Pipelines are the real adapters, called in-process (no Ray), with the real scorers: ``patchmatch``
(baseline), ``cv2-ns`` (unchanged in both runs), and two candidates run under the label ``patchmatch``:
``cv2-telea`` (the swap: a worse fill) and ``patchmatch`` with ``options: {resolution: 96}`` (blocky:
the whole frame resampled). Each candidate is gated against the baseline with the default gate,
``gated: primary`` and ``family: none``; the table prints the exit code and the summary. The swap must
fail the default gate (exit 1) on both designs (reconstruction: with the first declared primary); the
blocky pipeline must fail every setting.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.contract.results import ResultRow  # noqa: E402
from harness.contract.spec import PipelineSpec  # noqa: E402
from harness.core.imageio import load_image  # noqa: E402
from harness.execution.worker import effective_task  # noqa: E402
from harness.pipelines.base import build_pipeline  # noqa: E402
from reports.gate import GateConfig, compare  # noqa: E402
from scorers.base import get_scorer_class  # noqa: E402
from scorers.columns import metrics_record  # noqa: E402
from scorers.goals import choose  # noqa: E402
from tasks.builders.common import write_suite  # noqa: E402
from tasks.builders.reconstruction import ReconstructionOptions, draft_reconstruction, textured_holes  # noqa: E402
from tasks.builders.simple import RemovalOptions, draft_removal  # noqa: E402
from tasks.loading import load_suite  # noqa: E402
from tasks.schema import resolve_task  # noqa: E402

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "motorcycle", "retina")
SCORERS = {"removal": ["texture", "seam", "background", "latency"],
           "reconstruction": ["fidelity", "texture", "seam", "background", "latency"]}
CANDIDATES = {"swap (cv2-telea as patchmatch)": ("cv2-telea", {}),
              "blocky (patchmatch resolution 96)": ("patchmatch", {"resolution": 96})}


def photos(folder: Path, size: int | None) -> Path:
    """The photos as PNG files, the longer side reduced to ``size`` px (Lanczos) when given."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
        im = Image.fromarray(np.asarray(img)[..., :3])
        if size and max(im.size) > size:
            k = size / max(im.size)
            im = im.resize((round(im.width * k), round(im.height * k)), Image.LANCZOS)
        im.save(folder / f"{name}.png")
    return folder


def build_designs(root: Path, n_tasks: int, size: int | None = None) -> dict[str, list]:
    """{design: resolved tasks} built with the suite builders."""

    images = photos(root / "images", size)
    boxes = root / "boxes.csv"
    with boxes.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "x0", "y0", "x1", "y1"])
        for p in sorted(images.glob("*.png")):
            for b in textured_holes(load_image(p), holes=2, size=0.2):
                w.writerow([p.name, *b])
    out = {}
    for design, (draft, opts) in {
        "removal": (draft_removal, RemovalOptions(images=images, boxes=boxes, out=root / "removal.yaml")),
        "reconstruction": (draft_reconstruction, ReconstructionOptions(images=images, holes=2,
                                                                       out=root / "reconstruction.yaml")),
    }.items():
        path = write_suite(draft(opts), opts)
        suite = load_suite(path)
        out[design] = [resolve_task(suite, t) for t in suite.tasks[:n_tasks]]
    return out


def run_rows(tasks: list, name: str, options: dict, label: str, seeds: list[int], scorers: list[str]) -> pd.DataFrame:
    """Result rows of pipeline ``name`` (``options``) under ``label`` over ``tasks`` x ``seeds``."""

    pipe = build_pipeline(PipelineSpec(name=name, options=options))
    pipe.load()
    scs = [get_scorer_class(s)() for s in scorers]
    for s in scs:
        s.load()
    recs = []
    for t in tasks:
        for seed in seeds:
            o = pipe.run(t, seed)
            et = effective_task(t, o)
            metrics = {}
            for s in scs:
                if s.applies_to(et):
                    vals = s.score(et, o)
                    metrics.update({f"{s.name}.{m}": float(vals.get(m, math.nan)) for m in s.metrics})
            recs.append(ResultRow(run_id=label, suite="bench", task_id=t.task_id, kind=t.kind, pipeline=label, seed=seed,
                                  weights="real", latency_ms=o.latency_ms, stage_ms=dict(o.latencies_ms),
                                  metrics=metrics).to_record())
    return pd.DataFrame.from_records(recs)


def main(argv=None) -> int:

    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=14)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--reconstruction-primary", default="texture.score,fidelity.ssim",
                    help="declared primaries (comma-separated, each gated in turn) of the reconstruction design "
                         "when the goal table gives none (no LPIPS weights here)")
    ap.add_argument("--size", type=int, default=256, help="longer side of the photos in px (0: as shipped)")
    ap.add_argument("--out", type=Path, default=None, help="folder for the photos and suites (default: a temp dir)")
    a = ap.parse_args(argv)
    root = a.out or Path(tempfile.mkdtemp(prefix="gate-power-"))
    seeds = list(range(a.seeds))
    t0 = time.perf_counter()
    designs = build_designs(root, a.tasks, a.size or None)
    configs = {"default": GateConfig(), "gated: primary": GateConfig(gated="primary"),
               "family: none": GateConfig(family="none")}
    print(f"{a.tasks} tasks x {a.seeds} seeds per design; photos ({a.size or 'full'} px): {', '.join(PHOTOS)}")
    print("| design | primary | candidate | gate setting | exit | primary diff [CI], p (adj.) | summary |")
    print("|---|---|---|---|---|---|---|")
    failures = []
    for design, tasks in designs.items():
        scorers = SCORERS[design]
        record = metrics_record(scorers)
        choice = choose(record, "removal" if design == "removal" else "reconstruction")
        primaries = [choice.metric] if choice.metric else a.reconstruction_primary.split(",")
        base = pd.concat([run_rows(tasks, "patchmatch", {}, "patchmatch", seeds, scorers),
                          run_rows(tasks, "cv2-ns", {}, "cv2-ns", seeds, scorers)], ignore_index=True)
        unchanged = base[base["pipeline"] == "cv2-ns"]
        for cand_name, (name, options) in CANDIDATES.items():
            cand = pd.concat([run_rows(tasks, name, options, "patchmatch", seeds, scorers), unchanged],
                             ignore_index=True)
            for primary in primaries:
                record = metrics_record(scorers, primary=primary)
                for cfg_name, cfg in configs.items():
                    res = compare(base, cand, config=cfg, record=record, goal=design, companions=choice.companions)
                    pm = next(m for m in res.metrics if m.metric == primary and m.candidate_pipeline == "patchmatch")
                    d = pm.diff
                    print(f"| {design} | {primary}{'' if choice.metric else ' (declared)'} | {cand_name} | "
                          f"{cfg_name} | {res.exit_code} | {d.diff:+.3g} [{d.lo:+.3g}, {d.hi:+.3g}], "
                          f"p {pm.p_regressed:.2g} ({pm.p_regressed_adj:.2g}) | {res.summary()} |", flush=True)
                    must = cand_name.startswith("blocky") or (cfg_name == "default" and primary == primaries[0])
                    if res.exit_code != 1 and must:
                        failures.append(f"{design} / {primary} / {cand_name} / {cfg_name}: exit {res.exit_code}")
    print(f"{time.perf_counter() - t0:.0f} s; suites and photos in {root}")
    if failures:
        print("NOT CAUGHT: " + "; ".join(failures))
        return 1
    print("every swap failed the default gate and every blocky candidate failed every gate setting")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
