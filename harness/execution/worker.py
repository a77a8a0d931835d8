"""Actor bodies: a pipeline worker (generation) and a scorer worker (saving + scoring).

Both are plain classes, wrapped with ``ray.remote`` by :mod:`harness.execution.runner`, so tests and
benchmarks can also drive them directly. Every failure of a job becomes a row with
``status=error`` and the message; nothing a pipeline or scorer does can crash the run.

Scoring runs either inline (the pipeline worker saves and scores right after generating) or in a
separate scorer actor (``Worker.generate`` hands the Output over through Ray's object store, and
``ScorerWorker.finish`` saves and scores it), so a GPU worker can start the next job while the
previous output is being scored.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.contract.results import ResultRow
from harness.contract.spec import PipelineSpec
from harness.core.imageio import prefetched
from harness.core.storage import check_name, infrastructure_error, is_uri, location, output_stem
from harness.execution.mask_stage import prepare_mask
from harness.masks import with_stored_mask
from harness.pipelines.base import Output, build_pipeline
from scorers.base import Scorer, get_scorer_class
from tasks.schema import Task


@dataclass(frozen=True)
class Job:
    task: Task            # paths resolved against the suite's data root
    pipeline: PipelineSpec
    seed: int
    attempt: int = 1

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.task.task_id, self.pipeline.key, self.seed)

    def retry(self) -> "Job":
        return Job(self.task, self.pipeline, self.seed, self.attempt + 1)


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


def one_line(e: BaseException) -> str:
    """A row's error message: plain text, one line, the exception type first, then its cause's type and
    message when it has one (``RayTaskError`` wraps the pipeline's exception as ``cause``)."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, BaseException):
        e = cause
    text = ANSI_ESCAPE.sub("", str(e))
    msg = f"{type(e).__name__}: {text}".strip()
    inner = e.__cause__ if e.__cause__ is not None else (None if e.__suppress_context__ else e.__context__)
    if inner is not None:
        msg += f" (caused by {type(inner).__name__}: {ANSI_ESCAPE.sub('', str(inner))})"
    return " ".join(msg.split())[:2000]


def new_row(job: Job, *, run_id: str, suite: str, status: str = "ok", error: str | None = None) -> ResultRow:
    t = job.task
    return ResultRow(run_id=run_id, suite=suite, task_id=t.task_id, kind=t.kind, pipeline=job.pipeline.key,
                     seed=job.seed, status=status, error=error, attempt=job.attempt,
                     params={**t.params, **job.pipeline.grid_point})


def effective_task(task: Task, output: Output):
    """``task`` with the options its pipeline applied (``output.applied``) as its overrides."""
    if not output.applied:
        return task
    return task.model_copy(update={"overrides": {**task.overrides, **output.applied}})


def save_output(output: Output, path_stem: Path) -> Path:
    """Write an output image as PNG, or an array as .npy; returns the path written."""
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    if output.image is not None:
        from PIL import Image

        path = path_stem.with_name(path_stem.name + ".png")  # not with_suffix: task ids may hold dots
        Image.fromarray(np.asarray(output.image, dtype=np.uint8)).save(path)
    else:
        path = path_stem.with_name(path_stem.name + ".npy")
        np.save(path, np.asarray(output.array))
    return path


def output_bytes(output: Output) -> tuple[bytes, str]:
    """An output encoded as written to an object store: (PNG or .npy bytes, suffix)."""
    import io

    buf = io.BytesIO()
    if output.image is not None:
        from PIL import Image

        Image.fromarray(np.asarray(output.image, dtype=np.uint8)).save(buf, format="PNG")
        return buf.getvalue(), ".png"
    np.save(buf, np.asarray(output.array))
    return buf.getvalue(), ".npy"


def save_output_to(output: Output, out: str, pipeline: str, task_id: str, seed: int) -> str:
    """Write an output under ``out`` (a directory or an object-store URI); returns its path relative to ``out``."""
    if not is_uri(out):
        stem = output_stem(out, pipeline, task_id, seed)
        try:
            path = save_output(output, stem)
        except OSError as e:  # disk full, permission, I/O: the run must stop, this is not the pipeline's fault
            infra = infrastructure_error(e, stem.parent)
            if infra is not None:
                raise infra from None
            raise
        return str(path.relative_to(Path(out).resolve()))
    check_name(pipeline, what="pipeline label", where="output path")
    check_name(task_id, what="task_id", where="output path")
    data, suffix = output_bytes(output)
    rel = f"outputs/{pipeline}/{task_id}__s{int(seed)}{suffix}"
    location(out).write_bytes(data, rel)   # written by this actor straight to the object store
    return rel


def load_scorers(names: list[str], options: dict[str, dict] | None = None) -> list[Scorer]:
    options = options or {}
    scorers = [get_scorer_class(n)(**options.get(n, {})) for n in names]
    for s in scorers:
        s.load()
    return scorers


def score_with(scorer: Scorer, tasks: list, outputs: list[Output]) -> list[tuple[dict, dict, str | None]]:
    """One scorer over a batch: ``score_rows`` first; if it raises, item by item so that one bad
    output does not cost the others their metrics. Returns (values, evidence columns, error) per item."""
    try:
        return [(vals, ev, None) for vals, ev in scorer.score_rows(tasks, outputs)]
    except Exception:  # noqa: BLE001 - isolate the failing item below
        pass
    results = []
    for t, o in zip(tasks, outputs):
        try:
            (vals, ev), = scorer.score_rows([t], [o])
            results.append((vals, ev, None))
        except Exception as e:  # noqa: BLE001 - a scorer failure leaves NaN, the row stays
            results.append(({}, {}, f"{scorer.name}: {one_line(e)}"))
    return results


def finish_rows(rows: list[ResultRow], jobs: list[Job], outputs: list[Output], scorers: list[Scorer],
                out: str | Path) -> list[dict]:
    """Save each output, score them (each scorer batched over the jobs it applies to), and return
    the finished row records."""
    errors: list[list[str]] = [[] for _ in rows]
    for row, job, output in zip(rows, jobs, outputs):
        row.output_path = save_output_to(output, str(out), job.pipeline.key, job.task.task_id, job.seed)
        row.metrics = {}
    # Scorers compare against the task as the pipeline ran it (stored SAM mask, effective mask dilation,
    # canvas, ...).
    tasks = [effective_task(with_stored_mask(j.task, out), o) for j, o in zip(jobs, outputs)]
    for s in scorers:
        idx = [i for i, t in enumerate(tasks) if s.applies_to(t)]
        results = dict(zip(idx, score_with(s, [tasks[i] for i in idx], [outputs[i] for i in idx]))) if idx else {}
        for i, row in enumerate(rows):
            vals, ev, err = results.get(i, ({}, {}, None))
            row.metrics.update({f"{s.name}.{m}": float(vals.get(m, math.nan)) for m in s.metrics})
            row.extras.update({c: ev.get(c) for c in s.evidence_columns()})   # e.g. a judge's answer and model
            if err:
                errors[i].append(err)
    for row, errs in zip(rows, errors):
        row.score_error = "; ".join(errs) or None
    return [row.to_record() for row in rows]


def _placement() -> tuple[str | None, str | None]:
    """(Ray node id, assigned GPU ids) of this process; (None, None) outside Ray."""
    try:
        import ray

        if not ray.is_initialized():
            return None, None
        ctx = ray.get_runtime_context()
        return ctx.get_node_id()[:12], ",".join(str(g) for g in ray.get_gpu_ids())
    except Exception:  # noqa: BLE001 - provenance only
        return None, None


class StartBoard:
    """Which job each pipeline actor started last, and how long ago, on one clock (this object's).

    Run as a small Ray actor: pipeline actors report every start with :meth:`started` and wait for
    the reply (so a start that kills the actor is still on record); the driver reads :meth:`snapshot`
    to time tasks from their real start and to blame a dead actor's job. It works when the actors run
    on other nodes than the driver: no shared disk and no shared clock are needed.
    """

    def __init__(self):
        self._starts: dict[str, tuple[tuple, float]] = {}

    def started(self, token: str, key: tuple) -> None:
        self._starts[token] = (tuple(key), time.monotonic())

    def snapshot(self) -> dict[str, tuple[tuple, float]]:
        """token -> (key of the job it started last, seconds since that start)."""
        now = time.monotonic()
        return {t: (k, now - t0) for t, (k, t0) in self._starts.items()}

    def forget(self, token: str) -> None:
        self._starts.pop(token, None)


def report_start(board, token: str, key: tuple) -> None:
    """Tell ``board`` (a StartBoard, or a Ray handle of one) that this actor starts job ``key``."""
    method = board.started
    if hasattr(method, "remote"):
        import ray

        ray.get(method.remote(token, key))
    else:
        method(token, key)


class Worker:
    """One pipeline copy (and, for inline scoring, the scorers), for one actor.

    ``board``/``token``: where the actor reports the start of each job (see :class:`StartBoard`).
    """

    def __init__(self, pipeline: PipelineSpec, scorers: list[str], *, out: str, run_id: str, suite: str,
                 score_inline: bool = True, scorer_options: dict[str, dict] | None = None,
                 board=None, token: str | None = None):
        self.spec = pipeline
        self.out = str(out)   # a directory or an object-store URI (Path would fold its '//')
        self.run_id = run_id
        self.suite = suite
        self.scorer_names = list(scorers) if score_inline else []
        self.scorer_options = scorer_options or {}
        self.board, self.token = board, token
        self.pipeline = None
        self.scorers: list[Scorer] = []
        self.load_error: str | None = None
        self.resolved: dict[str, str] = {}   # device/dtype the pipeline resolved at load
        self.calls = 0
        self.node, self.gpu = _placement()
        self._lock = threading.Lock()   # a concurrent pipeline's actor runs jobs on several threads

    def _load(self) -> None:
        with self._lock:
            self._load_once()

    def _load_once(self) -> None:
        if self.pipeline is not None or self.load_error is not None:
            return
        try:
            p = build_pipeline(self.spec)
            p.load()
            self.scorers = load_scorers(self.scorer_names, self.scorer_options)
        except Exception as e:  # noqa: BLE001 - becomes every row's error for this actor
            self.load_error = f"loading pipeline {self.spec.key} failed: {one_line(e)}"
            return
        self.pipeline = p
        self.resolved = p.resolved()

    def ping(self) -> str:
        """Load eagerly (the runner calls this before dispatching); returns the load error or "ok"."""
        self._load()
        return self.load_error or "ok"

    def generate(self, job: Job, inputs: dict | None = None) -> tuple[ResultRow, Output | None]:
        """Run the pipeline on one job. Returns the row (status, latencies; not yet scored) and the
        Output, which is None when the row is an error."""
        self._load()
        row = new_row(job, run_id=self.run_id, suite=self.suite)
        row.node, row.gpu = self.node, self.gpu
        row.device, row.dtype = self.resolved.get("device"), self.resolved.get("dtype")
        if self.load_error:
            row.status, row.error = "error", self.load_error
            return row, None
        with self._lock:
            self.calls += 1
            row.warmup = self.calls == 1
        if self.board is not None:
            report_start(self.board, self.token, job.key)
        try:
            with prefetched(inputs):
                task, mask = prepare_mask(job.task, self.out)   # SAM recipe -> the run's stored mask
                t0 = time.perf_counter()
                output = self.pipeline.run(task, job.seed)
                wall = (time.perf_counter() - t0) * 1e3
            output.check_finite()
        except Exception as e:  # noqa: BLE001 - a failing pipeline is a row, not a crash
            row.status, row.error = "error", one_line(e)
            row.extras = dict(getattr(e, "extras", None) or {})   # e.g. a hosted request's attempts
            return row, None
        row.weights = output.weights
        row.extras = dict(output.extras)
        row.params = {**row.params, **output.applied}   # meta, and the overrides as applied
        row.latency_ms = output.latency_ms if math.isfinite(output.latency_ms) or not self.pipeline.wall_latency else wall
        row.stage_ms = dict(output.latencies_ms)
        if mask is not None:   # the round trip a user waits for: mask stage + edit
            row.stage_ms["mask"] = float(mask["latency_mask_ms"])
            row.latency_ms += row.stage_ms["mask"]
            row.extras["mask_generator"] = mask["generator"]
            if mask["weights"] == "random":   # a random segmenter's mask: quality metrics are not rankable
                row.weights = "random"
        return row, output

    def run(self, job: Job, inputs: dict | None = None) -> dict:
        """Generate, save and score one job (inline scoring); always returns a row record."""
        row, output = self.generate(job, inputs)
        if output is None:
            return row.to_record()
        return finish_rows([row], [job], [output], self.scorers, self.out)[0]


class ScorerWorker:
    """Saves and scores outputs produced by pipeline workers (scoring pool)."""

    def __init__(self, scorers: list[str], *, out: str, scorer_options: dict[str, dict] | None = None):
        self.names = list(scorers)
        self.options = scorer_options or {}
        self.out = str(out)   # a directory or an object-store URI (Path would fold its '//')
        self.scorers: list[Scorer] | None = None

    def ping(self) -> str:
        if self.scorers is None:
            self.scorers = load_scorers(self.names, self.options)
        return "ok"

    def finish(self, jobs: list[Job], rows: list[ResultRow], output_refs: list) -> list[dict]:
        """Save and score a batch; ``output_refs`` are object refs of the pipeline workers' Outputs,
        fetched here from the object store (they never pass through the driver)."""
        import ray

        self.ping()
        return finish_rows(rows, jobs, ray.get(output_refs), self.scorers, self.out)
