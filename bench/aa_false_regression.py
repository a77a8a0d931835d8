"""Whole-gate false-alarm rate and power of the regression gate, from a row simulator (no Ray).

    python -m bench.aa_false_regression [--gates 2000] [--sigma-seed 1.0] [--noise normal|t3|lognormal]
                                        [--confidence 0.95] [--family holm|none] [--primary-weight 0.5]
                                        [--check 40] [--rng 0]

Each simulated gate is one baseline run and one candidate run of the same suite: metric j of task t
and seed s is ``task_effect[j, t] + noise`` on each side (task effects N(0, sigma_task = 1), shared by
both sides; seed noise N(0, sigma_seed), fresh on each side, as for a stochastic pipeline), the
candidate adding ``shift`` to metric 0 (higher is better, so a negative shift is a regression).
Metric 0 is the run's primary: with 12 metrics the gate's weighted Holm gives its verdict
``--primary-weight`` of alpha (default 0.5) and the 11 others share the rest.
Cells: 1/2/3 seeds per task x 4/20/100 tasks x 1 and 12 metrics, every gated with tolerance 0.

- ``gate FA``: share of A/A gates (shift 0) that exit 1, with the upper limit of its 95 %
  Clopper-Pearson interval;
- ``gate power``: share of gates that exit 1 when metric 0 (the primary) is worse by 0.5 and 1.0 task SD;
- ``t-test``: the same data through scipy's paired t-test (``ttest_rel`` on task means, one-sided at
  the gate's level (1 - confidence) / 2) per metric with no family-wise correction, a gate failing
  when any metric is significant.

The gate's decisions come from its own statistics code, vectorised over gates: per-task seed means,
:func:`reports.stats.t_summary`, :func:`reports.stats.one_sided_p` and
:func:`reports.stats.weighted_holm` (family ``holm``, the default; :func:`reports.gate.family_weights`).
``--check N`` (default 40) also runs N simulated gates per 1-seed/4-task and 2-seed/20-task cell
through :func:`reports.gate.compare` on result-row DataFrames and stops if a single decision differs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy import stats

from reports.gate import GateConfig, compare
from reports.stats import one_sided_p, t_summary, weighted_holm

SEEDS, TASKS, METRICS, SHIFTS = (1, 2, 3), (4, 20, 100), (1, 12), (0.0, 0.5, 1.0)


def noise(rng: np.random.Generator, shape, sigma: float, dist: str = "normal") -> np.ndarray:
    """Seed noise with mean 0 and SD ``sigma``: normal, Student t with 3 df (heavy tails) or a
    centred lognormal (skewed, like a rate that is mostly small)."""
    if dist == "normal":
        return rng.normal(0.0, sigma, shape)
    if dist == "t3":
        return sigma * rng.standard_t(3, shape) / np.sqrt(3.0)
    if dist == "lognormal":
        s2 = 1.0
        x = rng.lognormal(0.0, np.sqrt(s2), shape)
        return sigma * (x - np.exp(s2 / 2)) / np.sqrt((np.exp(s2) - 1) * np.exp(s2))
    raise ValueError(f"unknown noise distribution {dist!r}; choose from normal, t3, lognormal")


def simulate(rng: np.random.Generator, gates: int, n_metrics: int, n_tasks: int, n_seeds: int,
             shift: float, sigma_seed: float, dist: str = "normal") -> tuple[np.ndarray, np.ndarray]:
    """(baseline, candidate) values, shape (gates, metrics, tasks, seeds)."""
    shape = (gates, n_metrics, n_tasks, n_seeds)
    task = rng.normal(0.0, 1.0, (gates, n_metrics, n_tasks, 1))
    base = task + noise(rng, shape, sigma_seed, dist)
    cand = task + noise(rng, shape, sigma_seed, dist)
    cand[:, 0] -= shift
    return base, cand


def primary_weights(n_metrics: int, primary_weight: float) -> np.ndarray:
    """The gate's weighted Holm weights when metric 0 is the primary (equal weights for one metric)."""
    if n_metrics == 1:
        return np.ones(1)
    return np.array([primary_weight] + [(1 - primary_weight) / (n_metrics - 1)] * (n_metrics - 1))


def gate_fails(base: np.ndarray, cand: np.ndarray, alpha: float, family: str = "holm",
               primary_weight: float = 0.5) -> np.ndarray:
    """The gate's exit-1 decision per simulated gate (higher is better, tolerance 0; metric 0 primary)."""
    d = cand.mean(-1) - base.mean(-1)                # per-task difference of seed means (gates, metrics, tasks)
    mean, se, df = t_summary(d)
    p = one_sided_p(-mean, se, df, 0.0)              # bad side of a higher-is-better metric
    if family == "holm":
        rejected = weighted_holm(p, primary_weights(p.shape[-1], primary_weight), alpha)[0]
    else:
        rejected = p < alpha
    return rejected.any(-1)


def ttest_fails(base: np.ndarray, cand: np.ndarray, alpha: float) -> np.ndarray:
    """scipy's paired t-test per metric on task means, one-sided, uncorrected; any metric fails the gate."""
    p = stats.ttest_rel(cand.mean(-1), base.mean(-1), axis=-1, alternative="less").pvalue
    return (p < alpha).any(-1)


def clopper_pearson_upper(k: int, n: int, level: float = 0.95) -> float:
    return 1.0 if k == n else float(stats.beta.ppf(1 - (1 - level) / 2, k + 1, n - k))


def frame(values: np.ndarray, side: str) -> pd.DataFrame:
    """Result rows of one simulated run (values: (metrics, tasks, seeds))."""
    n_metrics, n_tasks, n_seeds = values.shape
    t, s = np.meshgrid(np.arange(n_tasks), np.arange(n_seeds), indexing="ij")
    df = pd.DataFrame({"task_id": [f"t{i:03d}" for i in t.ravel()], "seed": s.ravel(), "pipeline": "sim",
                       "status": "ok", "weights": "trained", "run": side})
    for j in range(n_metrics):
        df[f"sim.m{j}"] = values[j].ravel()
    return df


def check_against_compare(rng: np.random.Generator, n: int, n_metrics: int, n_tasks: int, n_seeds: int,
                          config: GateConfig, sigma_seed: float) -> None:
    """Gate ``n`` simulated pairs of runs with reports.gate.compare; stop on any disagreement."""
    record = {f"sim.m{j}": {"scorer": "sim", "direction": "higher", "role": "quality", "primary": j == 0}
              for j in range(n_metrics)}
    for shift in (0.0, 0.5):
        base, cand = simulate(rng, n, n_metrics, n_tasks, n_seeds, shift, sigma_seed)
        fast = gate_fails(base, cand, config.alpha, config.family, config.primary_weight)
        for g in range(n):
            res = compare(frame(base[g], "b"), frame(cand[g], "c"), config=config, record=record)
            if (res.exit_code == 1) != bool(fast[g]):
                raise SystemExit(f"reports.gate.compare and the vectorised gate disagree on simulated gate {g} "
                                 f"({n_seeds} seeds, {n_tasks} tasks, {n_metrics} metrics, shift {shift})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gates", type=int, default=2000, help="simulated gates per cell and shift")
    ap.add_argument("--sigma-seed", type=float, default=1.0, help="seed-noise SD (task SD is 1)")
    ap.add_argument("--noise", choices=("normal", "t3", "lognormal"), default="normal", help="seed-noise distribution")
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--family", choices=("holm", "none"), default="holm")
    ap.add_argument("--primary-weight", type=float, default=0.5, help="share of alpha of metric 0 (the primary)")
    ap.add_argument("--check", type=int, default=40, help="gates per checked cell run through reports.gate.compare")
    ap.add_argument("--rng", type=int, default=0)
    a = ap.parse_args()
    config = GateConfig(confidence=a.confidence, family=a.family, primary_weight=a.primary_weight)
    alpha = config.alpha
    rng = np.random.default_rng(a.rng)
    t0 = time.perf_counter()
    if a.check:
        for n_seeds, n_tasks in ((1, 4), (2, 20)):
            check_against_compare(rng, a.check, 12, n_tasks, n_seeds, config, a.sigma_seed)
    print(f"{a.gates} simulated gates per cell and shift; task SD 1, seed SD {a.sigma_seed:g} ({a.noise}); "
          f"one-sided level {alpha:.3g}, family {a.family}, primary weight {a.primary_weight:g}; "
          "shifts in task SDs on metric 0 (the primary)")
    if a.check:
        print(f"reports.gate.compare agreed with the vectorised gate on {4 * a.check} simulated gates")
    head = ("seeds", "tasks", "metrics", "gate FA", "FA CP95 upper", "t-test FA",
            "gate power 0.5", "t-test power 0.5", "gate power 1.0", "t-test power 1.0")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    worst = 0.0
    for n_seeds in SEEDS:
        for n_tasks in TASKS:
            for n_metrics in METRICS:
                cells = []
                for shift in SHIFTS:
                    g_fail = t_fail = 0
                    for start in range(0, a.gates, 500):       # chunks keep memory small at 100 tasks x 12 metrics
                        n = min(500, a.gates - start)
                        base, cand = simulate(rng, n, n_metrics, n_tasks, n_seeds, shift, a.sigma_seed, a.noise)
                        g_fail += int(gate_fails(base, cand, alpha, a.family, a.primary_weight).sum())
                        t_fail += int(ttest_fails(base, cand, alpha).sum())
                    cells.append((g_fail, t_fail))
                (fa, tfa), (p5, tp5), (p10, tp10) = cells
                upper = clopper_pearson_upper(fa, a.gates)
                worst = max(worst, upper)
                pct = lambda k: f"{100 * k / a.gates:.1f} %"   # noqa: E731
                print(f"| {n_seeds} | {n_tasks} | {n_metrics} | {pct(fa)} | {100 * upper:.1f} % | {pct(tfa)} | "
                      f"{pct(p5)} | {pct(tp5)} | {pct(p10)} | {pct(tp10)} |")
    print(f"largest Clopper-Pearson upper bound of the gate's A/A false-alarm rate: {100 * worst:.1f} %; "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
