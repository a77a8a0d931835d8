"""False-regression rate of the gate over simulated A/A comparisons from one many-seed toy run.

    python bench/aa_false_regression.py RUN_DIR [--n 100] [--seeds-per-side 2] [--confidence 0.95]

RUN_DIR is one run with many seeds, e.g.
    editbench run --suite toy-5d --pipelines toy-naive,toy-repaint --seeds 0,1,...,19 --out runs/aa20
Each comparison draws 2k distinct seeds at random, gates the first k (baseline) against the other k
(candidate) with the default gate config, and counts a false regression when the gate exits 1. Both
sides come from the same pipeline and model, so every regression verdict is a false alarm. Prints the
rate per gate and per metric.
"""

from __future__ import annotations

import argparse

import numpy as np

from reports.gate import GateConfig, compare
from reports.results import load_run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", help="run directory with many seeds")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seeds-per-side", type=int, default=2)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--rng", type=int, default=0)
    ap.add_argument("--plain-percentile", action="store_true",
                    help="use the plain percentile interval instead of the expanded one (for comparison)")
    a = ap.parse_args()
    if a.plain_percentile:
        import reports.stats

        plain = reports.stats.expanded_alpha
        reports.stats.expanded_alpha = lambda confidence, n_clusters: plain(confidence, None)
    _, df = load_run(a.run)
    seeds = np.array(sorted(df["seed"].unique()))
    k = a.seeds_per_side
    if len(seeds) < 2 * k:
        raise SystemExit(f"need at least {2 * k} seeds, the run has {len(seeds)}")
    rng = np.random.default_rng(a.rng)
    config = GateConfig(confidence=a.confidence)
    gates = 0
    regressed: dict[str, int] = {}
    improved: dict[str, int] = {}
    for _ in range(a.n):
        s = rng.choice(seeds, size=2 * k, replace=False)
        res = compare(df[df["seed"].isin(s[:k])], df[df["seed"].isin(s[k:])], config=config)
        gates += res.exit_code == 1
        for m in res.metrics:
            key = f"{m.candidate_pipeline} {m.metric}"
            regressed[key] = regressed.get(key, 0) + (m.verdict == "regressed")
            improved[key] = improved.get(key, 0) + (m.verdict == "improved")
    print(f"run {a.run}: {len(seeds)} seeds, {df['task_id'].nunique()} tasks, pipelines {sorted(df['pipeline'].unique())}")
    interval = "plain" if a.plain_percentile else "expanded"
    print(f"{a.n} A/A comparisons, {k} vs {k} seeds, confidence {a.confidence}, {interval} percentile interval")
    print(f"gate false-regression rate (exit 1): {gates}/{a.n} = {gates / a.n:.1%}")
    for key in sorted(regressed):
        print(f"  {key:40s} regressed {regressed[key]:3d}/{a.n}   improved {improved[key]:3d}/{a.n}")


if __name__ == "__main__":
    main()
