"""One ranking of a run's pipelines, shared by the terminal table, the HTML summary and the recommendation.

Pipelines are ordered by the run's primary metric (task mean, in its recorded direction). The best one
is compared with every other pipeline on the tasks (and seeds) both ran: the paired, task-clustered
difference CI of :func:`reports.stats.difference_ci_rows`. A pipeline whose CI excludes 0 on the bad side is
*measurably worse* than the best; the best is the **winner** only when it is measurably better than every
other ranked pipeline. Otherwise the top pipelines are *tied* and the documented tie-break decides the
recommendation: the lower median latency (non-warm-up ok rows), then the simpler pipeline (no weights
needed before weights needed), then the name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.leaderboard import Entry
from reports.rows import is_latency_metric, not_warmup, value_rows
from reports.stats import Difference, difference_ci_rows
from scorers.columns import direction


@dataclass
class Ranked:
    entry: Entry
    diff: Difference | None = None     # this pipeline minus the best, on the primary metric (None: the best)
    worse: bool = False                # measurably worse than the best (the difference CI excludes 0)
    p50_ms: float = math.nan           # median latency_ms of non-warm-up ok rows

    @property
    def pipeline(self) -> str:
        return self.entry.pipeline


@dataclass
class Ranking:
    metric: str | None                 # the primary metric ranked by (None: the run has no rankable metric)
    direction: str
    ranked: list[Ranked]               # best first; pipelines without a value of the metric last
    unranked: list[Entry]              # random weights (quality) or no value of the metric

    @property
    def winner(self) -> Ranked | None:
        """The best pipeline when it is measurably better than every other ranked one (at least one), else None."""
        if len(self.ranked) < 2 or not all(r.worse for r in self.ranked[1:]):
            return None
        return self.ranked[0]

    @property
    def tied(self) -> list[Ranked]:
        """The best pipeline and those not measurably worse than it."""
        return [r for i, r in enumerate(self.ranked) if i == 0 or not r.worse]

    def choice(self, simple: set[str] = frozenset()) -> tuple[Ranked | None, str]:
        """(recommended pipeline, why). The winner when there is one; otherwise, among the tied, the
        faster (median latency), then one of ``simple`` (pipelines needing no weights), then by name."""
        if not self.ranked:
            return None, "no pipeline has a value of the primary metric"
        if len(self.ranked) == 1:
            return self.ranked[0], "the only pipeline with a value of the primary metric"
        if self.winner is not None:
            return self.winner, f"measurably best on {self.metric}"
        tied = self.tied

        def key(r: Ranked):
            lat = r.p50_ms if math.isfinite(r.p50_ms) else math.inf
            return (lat, r.pipeline not in simple, r.pipeline)

        pick = sorted(tied, key=key)[0]
        names = ", ".join(r.pipeline for r in tied)
        return pick, (f"{names} are not measurably different on {self.metric}; "
                      f"{pick.pipeline} is chosen by the tie-break (faster, then simpler)")


def median_latency(df: pd.DataFrame, pipeline: str) -> float:
    g = df[(df["pipeline"] == pipeline) & (df["status"] == "ok")]
    g = g[not_warmup(g)]
    v = g["latency_ms"].to_numpy(dtype=np.float64) if "latency_ms" in g else np.array([])
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def rank(df: pd.DataFrame, entries: list[Entry], record: dict[str, dict], metric: str | None) -> Ranking:
    """Rank ``entries`` (one per pipeline, :func:`reports.leaderboard.entries`) by ``metric``."""
    if metric is None:
        return Ranking(None, "none", [], list(entries))
    d = direction(record, metric)
    sign = -1.0 if d == "higher" else 1.0
    usable, rest = [], []
    for e in entries:
        est = e.metrics.get(metric)
        hidden = e.random_only and not is_latency_metric(metric, record)
        (usable if est is not None and est.ok and not hidden else rest).append(e)
    usable.sort(key=lambda e: (sign * e.metrics[metric].mean, e.pipeline))
    ranked = [Ranked(e, p50_ms=median_latency(df, e.pipeline)) for e in usable]
    if ranked:
        best = value_rows(df[df["pipeline"] == ranked[0].pipeline], metric, record)
        for r in ranked[1:]:
            diff = difference_ci_rows(best, value_rows(df[df["pipeline"] == r.pipeline], metric, record))
            r.diff = diff
            bad = diff.lo > 0 if d == "lower" else diff.hi < 0
            r.worse = bool(np.isfinite(diff.lo) and np.isfinite(diff.hi) and bad)
    return Ranking(metric, d, ranked, rest)
