"""How many arena votes give what interval width: votes simulated from a known Bradley-Terry model.

Prints, for each number of votes, the mean width of the 95 % bootstrap interval of a pipeline's rating
(100 rounds, as `editbench report` computes it), the share of simulations that recover the true order
of all pipelines, and the width of the 95 % interval of a metric's pairwise accuracy when it agrees with
the people on 75 % of their decisive votes. It asserts nothing. Usage:
    .venv/bin/python bench/arena_intervals.py [--pipelines 4] [--gap 100] [--ties 0.15] [--repeats 10]
"""

from __future__ import annotations

import argparse

import numpy as np

from reports import arena_stats as st


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipelines", type=int, default=4)
    ap.add_argument("--gap", type=float, default=100.0, help="rating step between neighbouring pipelines")
    ap.add_argument("--ties", type=float, default=0.15, help="share of tie votes")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--votes", default="25,50,100,200,400,800")
    args = ap.parse_args()
    truth = {f"p{i}": 1000.0 + args.gap * ((args.pipelines - 1) / 2 - i) for i in range(args.pipelines)}
    order = sorted(truth, key=lambda p: -truth[p])
    print(f"{args.pipelines} pipelines {args.gap:g} rating points apart, {args.ties:.0%} ties, "
          f"{args.repeats} simulations per row")
    print("| votes | rating 95 % CI width (mean) | true order recovered | pairwise-accuracy CI width at 75 % |")
    print("|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for n in [int(x) for x in args.votes.split(",")]:
        widths, recovered, acc_w = [], 0, []
        for r in range(args.repeats):
            rated = st.ratings(st.simulate_votes(truth, n=n, seed=1000 * n + r, tie_rate=args.ties), seed=r)
            widths += [x.hi - x.lo for x in rated]
            recovered += [x.pipeline for x in rated] == order
            hits = (rng.random(int(round(n * (1 - args.ties)))) < 0.75).astype(float)
            boot = hits[rng.integers(0, len(hits), (1000, len(hits)))].mean(axis=1)
            acc_w.append(float(np.quantile(boot, 0.975) - np.quantile(boot, 0.025)))
        print(f"| {n} | {np.mean(widths):.0f} | {recovered}/{args.repeats} | {100 * np.mean(acc_w):.0f} points |")


if __name__ == "__main__":
    main()
