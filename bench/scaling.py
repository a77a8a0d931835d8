"""Throughput with 1 and 2 CPU actors on a CPU-bound synthetic pipeline.

    .venv/bin/python bench/scaling.py [--cost 200] [--n 40] [--actors 1,2]

Throughput = tasks / dispatch time (first submit after the actors loaded .. last row). On a GPU
machine pass --gpu to pin one actor per GPU (synthetic work is CPU-bound, so this measures only the
harness's fan-out; real GPU scaling needs a diffusers pipeline).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import harness_run, synthetic_suite  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cost", type=float, default=200.0)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--actors", default="1,2")
    args = ap.parse_args()
    from harness.execution.runner import init_ray

    init_ray(None)
    suite = synthetic_suite(args.n)
    base = None
    print(f"{'actors':>6} {'tasks':>6} {'seconds':>8} {'tasks/s':>8} {'speed-up':>9}")
    for k in (int(a) for a in args.actors.split(",")):
        att = harness_run(suite, {"cost_ms": args.cost}, actors_per_pipeline=k, scoring="inline")
        tput = args.n / att["dispatch_s"]
        base = base or tput
        print(f"{k:>6} {args.n:>6} {att['dispatch_s']:>8.2f} {tput:>8.2f} {tput / base:>8.2f}x")


if __name__ == "__main__":
    main()
