"""Per-task overhead of the harness against a bare Python loop over the same pipeline calls.

The ``synthetic`` pipeline spends a fixed CPU time per task (busy loop). The bare loop builds the
same adapter and calls ``run(task, seed)`` n times; the harness runs the same tasks through Ray with
one actor, inline scoring (latency scorer), PNG saving and Parquet streaming. Overhead per task =
(harness dispatch time - bare loop time) / n, where the harness time starts once the actor has
loaded its pipeline (Ray start-up and loading are one-off costs, reported separately by `run`).
"steady" leaves out the first task as well (first-call imports in driver and actor: PNG encoder,
Parquet writer): (last row - first row) / (n - 1) - bare time per task.

    .venv/bin/python bench/overhead.py [--costs 50,500] [--n 40]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import harness_run, synthetic_suite  # noqa: E402


def bare_loop(n: int, cost_ms: float) -> float:
    from harness.contract.spec import PipelineSpec
    from harness.pipelines.base import build_pipeline
    from tasks.loading import load_suite

    suite = load_suite(synthetic_suite(n))
    p = build_pipeline(PipelineSpec(name="synthetic", options={"cost_ms": cost_ms}))
    p.load()
    t0 = time.perf_counter()
    for t in suite.tasks:
        p.run(t, 0)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--costs", default="50,500")
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    from harness.execution.runner import init_ray

    init_ray(None)
    print(f"{'cost/task':>10} {'n':>4} {'bare s':>8} {'harness s':>10} {'overhead ms/task':>17} {'ratio':>7}"
          f" {'steady ms/task':>15} {'steady ratio':>13}")
    for cost in (float(c) for c in args.costs.split(",")):
        n = args.n if cost < 200 else max(10, args.n // 4)
        bare = bare_loop(n, cost)
        att = harness_run(synthetic_suite(n), {"cost_ms": cost}, actors_per_pipeline=1, scoring="inline")
        h = att["dispatch_s"]
        steady = (h - att["first_row_s"]) / (n - 1)
        print(f"{cost:>8.0f}ms {n:>4} {bare:>8.3f} {h:>10.3f} {(h - bare) / n * 1e3:>17.2f} {h / bare:>7.4f}"
              f" {(steady - bare / n) * 1e3:>15.2f} {steady / (bare / n):>13.4f}")


if __name__ == "__main__":
    main()
