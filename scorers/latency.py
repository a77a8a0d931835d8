"""Latency scorer: carries the pipeline's own timings into metric columns (no recomputation).

The per-stage columns ``latency_<stage>_ms`` are always written by the runner; this scorer adds
``latency.total_ms`` so that latency can be gated and ranked like any other metric.
"""

from __future__ import annotations

from scorers.base import Metric, Scorer
from tasks.schema import Task


class LatencyScorer(Scorer):
    name = "latency"
    metrics = {"total_ms": Metric("lower", role="latency", range=(0.0, None), unit="ms")}

    def score(self, task: Task, output) -> dict[str, float]:
        return {"total_ms": float(output.latency_ms)}
