"""The per-actor worker: loads one pipeline and the scorers once, then turns jobs into result rows.

It runs inside a Ray actor (see :mod:`harness.runner`) but is a plain class, so tests and benchmarks
can drive it directly. Every failure of a job becomes a row with ``status=error`` and the message;
nothing a pipeline does can crash the run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.pipelines.base import Output, build_pipeline
from harness.spec import PipelineSpec
from reports.results import ResultRow
from scorers.base import get_scorer_class


@dataclass(frozen=True)
class Job:
    task: object          # tasks.schema.Task with paths resolved against the suite's data root
    pipeline: PipelineSpec
    seed: int
    attempt: int = 1

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.task.task_id, self.pipeline.key, self.seed)


def _one_line(e: BaseException) -> str:
    msg = f"{type(e).__name__}: {e}".strip()
    return " ".join(msg.split())[:2000]


def save_output(output: Output, path_stem: Path) -> Path:
    """Write an output image as PNG, or an array as .npy; returns the path written."""
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    if output.image is not None:
        from PIL import Image

        path = path_stem.with_suffix(".png")
        Image.fromarray(np.asarray(output.image, dtype=np.uint8)).save(path)
    else:
        path = path_stem.with_suffix(".npy")
        np.save(path, np.asarray(output.array))
    return path


class Worker:
    """One pipeline copy plus the scorers, for one actor."""

    def __init__(self, pipeline: PipelineSpec, scorers: list[str], *, out: str, run_id: str, suite: str):
        self.spec = pipeline
        self.out = Path(out)
        self.run_id = run_id
        self.suite = suite
        self.scorer_names = list(scorers)
        self.pipeline = None
        self.scorers = None
        self.load_error: str | None = None
        self.calls = 0

    def _load(self) -> None:
        if self.pipeline is not None or self.load_error is not None:
            return
        try:
            p = build_pipeline(self.spec)
            p.load()
            scorers = [get_scorer_class(n)() for n in self.scorer_names]
            for s in scorers:
                s.load()
        except Exception as e:  # noqa: BLE001 - becomes every row's error for this actor
            self.load_error = f"loading pipeline {self.spec.key} failed: {_one_line(e)}"
            return
        self.pipeline, self.scorers = p, scorers

    def ping(self) -> str:
        """Load eagerly (the runner calls this before dispatching) and report load errors."""
        self._load()
        return self.load_error or "ok"

    def run(self, job: Job) -> dict:
        """Run, check, save and score one job; always returns a row record."""
        self._load()
        task = job.task
        row = ResultRow(run_id=self.run_id, suite=self.suite, task_id=task.task_id, kind=task.kind,
                        pipeline=job.pipeline.key, seed=job.seed, attempt=job.attempt,
                        params=dict(task.params))
        if self.load_error:
            row.status, row.error = "error", self.load_error
            return row.to_record()
        self.calls += 1
        row.warmup = self.calls == 1
        try:
            t0 = time.perf_counter()
            output = self.pipeline.run(task, job.seed)
            wall = (time.perf_counter() - t0) * 1e3
            output.check_finite()
        except Exception as e:  # noqa: BLE001 - a failing pipeline is a row, not a crash
            row.status, row.error = "error", _one_line(e)
            return row.to_record()
        row.weights = output.weights
        row.latency_ms = output.latency_ms if math.isfinite(output.latency_ms) else wall
        row.stage_ms = dict(output.latencies_ms)
        stem = self.out / "outputs" / job.pipeline.key / f"{task.task_id}__s{job.seed}"
        row.output_path = str(save_output(output, stem).relative_to(self.out))
        row.metrics, row.score_error = self._score(task, output)
        return row.to_record()

    def _score(self, task, output: Output) -> tuple[dict[str, float], str | None]:
        """Metrics of every scorer; a scorer that fails leaves NaN and its message in ``score_error``."""
        metrics: dict[str, float] = {}
        errors: list[str] = []
        for s in self.scorers:
            cols = s.columns()
            if not s.applies_to(task):
                metrics.update({c: math.nan for c in cols})
                continue
            try:
                vals = s.score(task, output)
            except Exception as e:  # noqa: BLE001 - a scorer failure leaves NaN, the row stays
                errors.append(f"{s.name}: {_one_line(e)}")
                vals = {}
            metrics.update({f"{s.name}.{m}": float(vals.get(m, math.nan)) for m in s.metrics})
        return metrics, ("; ".join(errors) or None)
