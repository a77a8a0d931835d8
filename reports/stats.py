"""Statistics of task-clustered results: leaderboard CIs and the gate's paired differences.

A suite's rows are clustered: tasks are the units we generalise over, seeds are repeated draws
within a task. Every statistic here is a *task mean* — the mean over tasks of the per-task mean over
seeds — and its uncertainty comes from the spread of the per-task values alone:

- seeds are averaged within a task first, so the between-task variance of the task means already
  contains the seed noise (divided by the number of seeds); resampling seeds on top of tasks would
  count it twice (Davison & Hinkley 1997, "Bootstrap Methods and their Application", section 3.8);
- with one seed per task the tasks are the only unit;
- the interval is Student's t on the n task values, ``mean ± t_{n-1, 1-a/2} · sd / sqrt(n)``, exact
  for normal task values and the small-sample reference the bootstrap only approximates (with 4
  tasks the percentile bootstrap is far too narrow).

A paired difference (candidate − baseline) is formed per task: the mean over the seeds both sides
ran of ``c(t, s) − b(t, s)``, or, when the sides share no seed of that task, ``mean_s c(t, s) −
mean_s b(t, s)``. Either way one value per task, and the t interval above applies to them (the
paired t-test on task means). With a single task there is no between-task spread; its paired seed
differences are then the units (inference about that task only).

The gate tests each metric one-sided against its tolerance (:func:`one_sided_p`) and controls the
family-wise error over all gated metrics with Holm's step-down procedure (:func:`holm`; Holm 1979,
"A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6(2)). All functions
are deterministic: no resampling, the same rows give the same numbers. :func:`t_summary`,
:func:`one_sided_p` and :func:`holm` are vectorised over leading axes (bench/aa_false_regression.py
simulates thousands of gates with them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

DEFAULT_SEED = 20240607      # kept for callers that pass it; the statistics are deterministic
DEFAULT_N_BOOT = 2000        # kept for callers that pass it; no resampling is done


@dataclass(frozen=True)
class Estimate:
    """A task mean with its t interval. ``n_tasks``/``n_rows`` count the values used."""

    mean: float
    lo: float
    hi: float
    n_tasks: int
    n_rows: int

    @property
    def ok(self) -> bool:
        return self.n_tasks > 0 and np.isfinite(self.mean)


NAN_ESTIMATE = Estimate(float("nan"), float("nan"), float("nan"), 0, 0)


def t_summary(units: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, standard error, degrees of freedom) of ``units`` along ``axis`` (NaN values ignored).

    se is NaN and df 0 where fewer than 2 values are finite.
    """
    u = np.asarray(units, dtype=np.float64)
    n = np.isfinite(u).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(u, axis=axis) / n
        dev = np.where(np.isfinite(u), u - np.expand_dims(mean, axis), 0.0)
        var = (dev ** 2).sum(axis=axis) / (n - 1)
        se = np.sqrt(var / n)
    se = np.where(n >= 2, se, np.nan)
    return mean, se, np.maximum(n - 1, 0)


def t_interval(mean, se, df, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Student-t interval ``mean ± t_{df, (1+confidence)/2} · se`` (NaN where df < 1)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    df = np.asarray(df)
    with np.errstate(invalid="ignore"):
        q = _st.t.ppf((1 + confidence) / 2, np.where(df >= 1, df, np.nan))
        half = q * se
    return mean - half, mean + half


def one_sided_p(bad: np.ndarray, se: np.ndarray, df: np.ndarray, tol) -> np.ndarray:
    """p-value of H0 "true bad-side shift <= tol" given the estimated bad-side shift ``bad``.

    t = (bad - tol) / se with ``df`` degrees of freedom. se = 0 (every unit equal) gives p = 0 when
    ``bad > tol`` and 1 otherwise; NaN se or df < 1 gives NaN (no data).
    """
    bad, se, df = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (bad, se, df)))
    tol = np.asarray(tol, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = _st.t.sf((bad - tol) / se, np.where(df >= 1, df, np.nan))
    p = np.where(se == 0, np.where(bad > tol, 0.0, 1.0), p)
    return np.where(np.isfinite(se) & (df >= 1) & np.isfinite(bad), p, np.nan)


def holm(p: np.ndarray, alpha: float, axis: int = -1) -> np.ndarray:
    """Holm's step-down rejections (bool, same shape as ``p``) at family-wise level ``alpha``.

    The k-th smallest of m p-values is compared with alpha / (m - k + 1); rejection stops at the first
    that is not below. NaN p-values are not tests (never rejected, not counted in m).
    """
    p = np.moveaxis(np.asarray(p, dtype=np.float64), axis, -1)
    valid = np.isfinite(p)
    m = valid.sum(-1, keepdims=True)
    order = np.argsort(np.where(valid, p, np.inf), axis=-1, kind="stable")
    ps = np.take_along_axis(np.where(valid, p, np.inf), order, -1)
    k = np.arange(p.shape[-1])
    ok = ps < alpha / np.maximum(m - k, 1)
    ok &= np.isfinite(ps)
    ok = np.cumprod(ok, axis=-1).astype(bool)           # stop at the first non-rejection
    out = np.zeros_like(ok)
    np.put_along_axis(out, order, ok, -1)
    return np.moveaxis(out, -1, axis)


def holm_adjusted(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values of a 1-D array (NaN stays NaN): reject where adjusted p < alpha."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full_like(p, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    if idx.size == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    m = idx.size
    adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


def _clean(groups: list[np.ndarray]) -> list[np.ndarray]:
    out = [np.asarray(g, dtype=np.float64) for g in groups]
    return [g[np.isfinite(g)] for g in out if np.isfinite(g).any()]


def task_mean_ci(groups: list[np.ndarray], *, confidence: float = 0.95, n_boot: int | None = None,
                 seed: int | None = None) -> Estimate:
    """Task mean of per-task value arrays (NaN dropped) with the t interval over task means.

    One task: its seeds are the units. ``n_boot``/``seed`` are accepted for older callers and unused.
    """
    groups = _clean(groups)
    if not groups:
        return NAN_ESTIMATE
    units = np.array([g.mean() for g in groups]) if len(groups) > 1 else groups[0]
    mean, se, df = t_summary(units)
    lo, hi = t_interval(mean, se, df, confidence)
    point = float(np.mean([g.mean() for g in groups]))
    return Estimate(point, float(lo), float(hi), len(groups), int(sum(len(g) for g in groups)))


def task_mean_ci_rows(task_ids, values, *, confidence: float = 0.95) -> Estimate:
    """:func:`task_mean_ci` from row arrays (``task_ids[i]`` and ``values[i]`` of one row each), in a few
    numpy passes instead of one array per task: the same statistic for reports of 10^5 tasks.
    Non-finite values are dropped; a task without a finite value does not count."""
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(v)
    if not keep.any():
        return NAN_ESTIMATE
    tasks, inv = np.unique(np.asarray(task_ids)[keep], return_inverse=True)
    v = v[keep]
    counts = np.bincount(inv, minlength=len(tasks))
    means = np.bincount(inv, weights=v, minlength=len(tasks)) / counts
    units = means if len(tasks) > 1 else v
    mean, se, df = t_summary(units)
    lo, hi = t_interval(mean, se, df, confidence)
    return Estimate(float(means.mean()), float(lo), float(hi), int(len(tasks)), int(v.size))


@dataclass(frozen=True)
class Difference:
    """Candidate minus baseline task mean with its t interval; ``paired`` tells how it was formed.

    ``se``/``df``: standard error and degrees of freedom of ``diff`` (the gate's one-sided tests use them).
    """

    baseline: float
    candidate: float
    diff: float
    lo: float
    hi: float
    n_tasks: int
    n_pairs: int          # (task, seed) pairs (paired) or candidate rows (unpaired)
    paired: bool
    se: float = float("nan")
    df: int = 0


def task_differences(base: dict[str, dict[int, float]], cand: dict[str, dict[int, float]]) -> dict:
    """Per-task values of a paired comparison (see the module docstring).

    Returns ``{"units", "b_means", "c_means", "n_tasks", "n_pairs", "paired"}``; ``units`` are the
    per-task differences (the paired seed differences of a single task).
    """
    tasks = sorted(t for t in base.keys() & cand.keys()
                   if any(np.isfinite(v) for v in base[t].values()) and any(np.isfinite(v) for v in cand[t].values()))
    units, b_means, c_means, n_pairs, paired = [], [], [], 0, bool(tasks)
    for t in tasks:
        common = sorted(s for s in base[t].keys() & cand[t].keys()
                        if np.isfinite(base[t][s]) and np.isfinite(cand[t][s]))
        if common:
            b = np.array([base[t][s] for s in common])
            c = np.array([cand[t][s] for s in common])
            n_pairs += len(common)
        else:
            paired = False
            b, c = _finite(base[t]), _finite(cand[t])
            n_pairs += len(c)
        b_means.append(b.mean())
        c_means.append(c.mean())
        units.append(c - b if common else np.array([c.mean() - b.mean()]))
    if len(tasks) == 1:
        u = units[0] if paired else np.array([c_means[0] - b_means[0]])
    else:
        u = np.array([x.mean() for x in units])
    return {"units": u, "b_means": np.array(b_means), "c_means": np.array(c_means),
            "n_tasks": len(tasks), "n_pairs": n_pairs, "paired": paired}


def difference_ci(base: dict[str, dict[int, float]], cand: dict[str, dict[int, float]], *,
                  confidence: float = 0.95, n_boot: int | None = None, seed: int | None = None) -> Difference:
    """Paired t interval of mean(candidate) - mean(baseline) over tasks.

    ``base`` and ``cand`` map task_id -> {seed: value}; tasks with finite values on both sides are
    compared. ``n_boot``/``seed`` are accepted for older callers and unused.
    """
    d = task_differences(base, cand)
    if d["n_tasks"] == 0:
        nan = float("nan")
        return Difference(nan, nan, nan, nan, nan, 0, 0, False)
    mean, se, df = t_summary(d["units"])
    lo, hi = t_interval(mean, se, df, confidence)
    b_mean, c_mean = float(d["b_means"].mean()), float(d["c_means"].mean())
    return Difference(b_mean, c_mean, c_mean - b_mean, float(lo), float(hi), d["n_tasks"], d["n_pairs"],
                      d["paired"], float(se), int(df))


def difference_ci_rows(base, cand, *, confidence: float = 0.95) -> Difference:
    """:func:`difference_ci` from row frames (columns ``task_id``, ``seed``, ``value``; one row per
    (task, seed)) in vectorised passes: the same statistic for gates over 10^5 tasks."""
    import pandas as pd

    b = base[np.isfinite(base["value"].to_numpy(dtype=np.float64))]
    c = cand[np.isfinite(cand["value"].to_numpy(dtype=np.float64))]
    bt = b.groupby("task_id", sort=True)["value"].agg(["mean", "size"])
    ct = c.groupby("task_id", sort=True)["value"].agg(["mean", "size"])
    tasks = bt.index.intersection(ct.index)
    if len(tasks) == 0:
        nan = float("nan")
        return Difference(nan, nan, nan, nan, nan, 0, 0, False)
    pairs = b.merge(c, on=["task_id", "seed"], suffixes=("_b", "_c"))   # only tasks both sides ran
    pairs["d"] = pairs["value_c"] - pairs["value_b"]
    common = pairs.groupby("task_id", sort=True).agg(b=("value_b", "mean"), c=("value_c", "mean"),
                                                     u=("d", "mean"), n=("d", "size"))
    lone = tasks.difference(common.index)   # tasks whose two sides share no seed
    if len(lone):
        other = pd.DataFrame({"b": bt.loc[lone, "mean"], "c": ct.loc[lone, "mean"], "n": ct.loc[lone, "size"]})
        other["u"] = other["c"] - other["b"]
        common = pd.concat([common, other]).sort_index()
    paired = len(lone) == 0
    units = pairs["d"].to_numpy() if (len(tasks) == 1 and paired) else common["u"].to_numpy()
    mean, se, df = t_summary(units)
    lo, hi = t_interval(mean, se, df, confidence)
    b_mean, c_mean = float(common["b"].mean()), float(common["c"].mean())
    return Difference(b_mean, c_mean, c_mean - b_mean, float(lo), float(hi), int(len(tasks)), int(common["n"].sum()),
                      paired, float(se), int(df))


def _finite(by_seed: dict[int, float]) -> np.ndarray:
    v = np.array(list(by_seed.values()), dtype=np.float64)
    return v[np.isfinite(v)]


def quantiles(values: np.ndarray, qs=(0.5, 0.9)) -> tuple[float, ...]:
    """Quantiles (linear interpolation) of the finite values; NaN when there are none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return tuple(float("nan") for _ in qs)
    return tuple(float(x) for x in np.quantile(v, qs))


def detectable_shift(sd, n, alpha: float, power: float = 0.8, tol=0.0) -> np.ndarray:
    """Smallest true bad-side shift a one-sided paired t-test at level ``alpha`` over ``n`` task
    differences with standard deviation ``sd`` detects with probability ``power``:
    ``tol + (t_{1-alpha, n-1} + t_{power, n-1}) · sd / sqrt(n)`` (the usual normal-shift approximation
    with t quantiles). NaN for n < 2 or a non-finite sd; ``tol`` when sd is 0."""
    sd, n = np.asarray(sd, dtype=np.float64), np.asarray(n, dtype=np.float64)
    df = np.where(n >= 2, n - 1, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = _st.t.ppf(1 - alpha, df) + _st.t.ppf(power, df)
        out = np.asarray(tol, dtype=np.float64) + k * sd / np.sqrt(n)
    return np.where(np.isfinite(sd) & (n >= 2), out, np.nan)


def weighted_holm(p: np.ndarray, weights: np.ndarray, alpha: float, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Holm (Holm 1979, section 5): (rejected, adjusted p), vectorised over leading axes.

    Hypotheses are ordered by ``p_i / w_i``; the k-th is rejected when ``p_k < alpha * w_k / W_k`` (W_k:
    the weights of it and of those after it) and every earlier one was; rejection stops at the first that
    is not. A weight of 0 is tested only after every positive-weight hypothesis is rejected, the zero-weight
    ones then sharing alpha equally (with the primary at weight 1 this is the fixed-sequence procedure).
    NaN p-values are not tests (never rejected, weight not counted). The family-wise error is at most alpha
    under any dependence: it is the closed test of weighted Bonferroni tests. Adjusted p: the running
    maximum of ``p_k W_k / w_k`` (capped at 1); rejected exactly where it is below alpha.
    """
    p = np.moveaxis(np.asarray(p, dtype=np.float64), axis, -1)
    w = np.broadcast_to(np.moveaxis(np.asarray(weights, dtype=np.float64), axis, -1) if np.ndim(weights) else
                        np.asarray(weights, dtype=np.float64), p.shape)
    valid = np.isfinite(p)
    pos = valid & (w > 0)
    zero = valid & ~(w > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        key = np.where(pos, p / np.where(pos, w, 1.0), np.inf)
    order = _weighted_order(key, p, pos, zero)
    ps = np.take_along_axis(np.where(valid, p, np.inf), order, -1)
    ws = np.take_along_axis(np.where(pos, w, 0.0), order, -1)
    zs = np.take_along_axis(zero, order, -1)
    vs = np.take_along_axis(valid, order, -1)
    tail_w = np.flip(np.cumsum(np.flip(ws, -1), -1), -1)              # W_k over positive weights
    tail_z = np.flip(np.cumsum(np.flip(zs, -1), -1), -1)              # zero-weight tests left
    share = np.where(zs, 1.0 / np.maximum(tail_z, 1), ws / np.where(tail_w > 0, tail_w, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(vs, np.minimum(1.0, ps / share), np.nan)
    adj_sorted = np.fmax.accumulate(np.where(vs, step, -np.inf), axis=-1)
    adj_sorted = np.where(vs, adj_sorted, np.nan)
    adj = np.empty_like(adj_sorted)
    np.put_along_axis(adj, order, adj_sorted, -1)
    rejected = np.where(np.isfinite(adj), adj < alpha, False)
    return np.moveaxis(rejected, -1, axis), np.moveaxis(adj, -1, axis)


def _weighted_order(key: np.ndarray, p: np.ndarray, pos: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """Test order of :func:`weighted_holm`: positive weights by p/w, then zero weights by p, then NaN."""
    group = np.where(pos, 0, np.where(zero, 1, 2))
    sub = np.where(pos, key, np.where(zero, p, 0.0))
    big = np.where(np.isfinite(sub), sub, np.finfo(np.float64).max)
    return np.lexsort((big, group), axis=-1)
