"""Cost scorer: what a hosted pipeline's request cost, as a ranked metric (``cost.usd``, lower is better).

The adapter prices each successful request from the price table in its options and records it as the
row column ``cost_usd`` (``harness.pipelines.hosted.price``); this scorer carries it into a metric
column with role ``cost``, so reports show it beside latency. NaN for pipelines that bill nothing
known (local models, or a hosted pipeline without prices). Never gated unless gates.yaml names it.
"""

from __future__ import annotations

import math

from scorers.base import Metric, Scorer
from tasks.schema import Task


class CostScorer(Scorer):
    name = "cost"
    metrics = {"usd": Metric("lower", role="cost", range=(0.0, None), unit="USD")}

    def score(self, task: Task, output) -> dict[str, float]:
        return {"usd": float(output.extras.get("cost_usd", math.nan))}
