"""Which rows and columns count: the rules every report, the gate and the recommendation share.

A metric's rows are the ok rows of real or trained weights; a latency metric's rows are the ok rows of any
weights but without the warm-up rows. Ranked metric columns are those the run's ``metrics`` record marks
ranked (not provenance), apart from the per-stage latency columns, which are shown apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.stats import Estimate
from scorers.columns import is_ranked, is_stage_column, registry_record, role


def metric_columns(df: pd.DataFrame, metrics: dict[str, dict] | None = None) -> list[str]:
    """Ranked metric columns present in ``df`` holding a value: the run's ``metrics`` record (today's
    registry when None) minus provenance flags and the per-stage latency columns (shown apart)."""
    rec = registry_record() if metrics is None else metrics
    return [c for c in df.columns if is_ranked(rec, c) and not is_stage_column(c) and df[c].notna().any()]


def is_latency_metric(col: str, metrics: dict[str, dict] | None = None) -> bool:
    """A latency-role metric (warm-up rows left out; shown for random weights too)."""
    if metrics is not None and col in metrics:
        return role(metrics, col) == "latency"
    return col.startswith("latency.") or is_stage_column(col)


def stage_columns(df: pd.DataFrame) -> list[str]:
    """Per-stage latency columns ``latency_<stage>_ms`` present in ``df``, then ``latency_ms`` (total)."""
    stages = sorted(c for c in df.columns if c.startswith("latency_") and c.endswith("_ms") and c != "latency_ms")
    return stages + (["latency_ms"] if "latency_ms" in df.columns else [])


def stage_label(col: str) -> str:
    """``latency_denoise_ms`` -> "denoise ms", ``latency_ms`` -> "total ms"."""
    return "total ms" if col == "latency_ms" else f"{col[len('latency_'):-len('_ms')]} ms"


def not_warmup(df: pd.DataFrame) -> pd.Series:
    if "warmup" not in df.columns:
        return pd.Series(True, index=df.index)
    return ~df["warmup"].fillna(False).astype(bool)


def metric_rows(df: pd.DataFrame, col: str, metrics: dict[str, dict] | None = None) -> pd.DataFrame:
    """The rows a metric is computed from: ok rows, real/trained weights (latency: any weights, no warm-up)."""
    ok = df[df["status"] == "ok"]
    if is_latency_metric(col, metrics):
        return ok[not_warmup(ok)]
    return ok[ok["weights"] != "random"]


def within_range(est: Estimate, value_range) -> Estimate:
    """``est`` with its interval clipped to the metric's recorded range (a t interval of a non-negative
    metric can reach below 0 with few tasks; the clipped interval still holds the true mean whenever the
    unclipped one does)."""
    if not est.ok or not value_range:
        return est
    lo_r, hi_r = value_range
    lo = est.lo if lo_r is None or not np.isfinite(est.lo) else max(est.lo, lo_r)
    hi = est.hi if hi_r is None or not np.isfinite(est.hi) else min(est.hi, hi_r)
    return Estimate(est.mean, lo, hi, est.n_tasks, est.n_rows)


def value_rows(df: pd.DataFrame, metric: str, record: dict[str, dict] | None = None) -> pd.DataFrame:
    """``task_id``, ``seed``, ``value`` of the rows ``metric`` is computed from (:func:`metric_rows`; empty
    when ``df`` lacks the column): what paired differences are taken over."""
    if metric not in df.columns:
        return pd.DataFrame({"task_id": [], "seed": [], "value": []})
    rows = metric_rows(df, metric, registry_record() if record is None else record)
    return rows[["task_id", "seed", metric]].rename(columns={metric: "value"})
