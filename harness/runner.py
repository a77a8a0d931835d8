"""Run orchestration: validate the manifest, fan jobs out to Ray actors, stream rows to Parquet.

Flow of :func:`run`:
1. :func:`build_manifest` loads the suite, resolves pipelines/seeds/scorers (CLI > run spec > suite
   defaults), builds every pipeline's options and checks its weights; nothing starts before the whole
   manifest validates.
2. The output directory is prepared; with ``resume`` the (task, pipeline, seed) rows already on disk
   are skipped, otherwise an output directory that already holds results is refused.
3. Each pipeline gets ``actors_per_pipeline`` Ray actors (:class:`harness.worker.Worker`), each
   loading its pipeline once. Each actor holds at most two jobs (one running, one queued) so that it
   never waits on the driver.
4. Finished rows are written as Parquet shards every ``flush_every`` rows; a job over its time limit
   becomes a ``timeout`` row and its actor is replaced; a dead actor is replaced and its job retried.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from harness.errors import EditbenchError
from harness.pipelines.base import build_pipeline, get_pipeline_class
from harness.provenance import git_sha, hardware, package_versions
from harness.spec import PipelineSpec, RunSpec, expand_grid
from harness.worker import Job, Worker
from reports.results import ResultRow, done_keys, read_results, write_shard
from scorers.base import get_scorer_class
from tasks.schema import Suite, load_suite
from tasks.validate import check_suite

PROJECT_ROOT = Path(__file__).resolve().parent.parent
JOBS_PER_ACTOR = 2


@dataclass
class Manifest:
    suite: Suite
    suite_hash: str
    pipelines: list[PipelineSpec]
    seeds: list[int]
    scorers: list[str]
    jobs: list[Job]
    pipeline_configs: list[dict] = field(default_factory=list)


def build_manifest(spec: RunSpec) -> Manifest:
    """Validate everything a run needs before any work starts; raises EditbenchError."""
    suite = load_suite(spec.suite)
    check_suite(suite)                    # every missing/unreadable file, bad mask, ... -> one EditbenchError
    pipelines = spec.pipelines if spec.pipelines is not None else suite.pipelines
    pipelines = expand_grid(pipelines, spec.grid)
    seeds = spec.seeds if spec.seeds is not None else suite.seeds
    scorers = spec.scorers if spec.scorers is not None else suite.scorers
    if not pipelines:
        raise EditbenchError(f"suite {suite.name} names no default pipelines; pass --pipelines.")
    if not seeds:
        raise EditbenchError("no seeds to run; pass --seeds, e.g. --seeds 0,1.")
    keys = [p.key for p in pipelines]
    if len(set(keys)) != len(keys):
        raise EditbenchError(f"pipelines {keys} repeat a name; give repeated pipelines distinct labels.")
    configs = []
    for p in pipelines:
        adapter = build_pipeline(p)       # unknown name or bad options -> EditbenchError
        adapter.check()                   # missing weights -> EditbenchError naming the expected path
        configs.append(adapter.describe())
    for s in scorers:
        get_scorer_class(s)().check()     # unknown name or missing weights -> EditbenchError
    tasks = suite.tasks[: spec.limit] if spec.limit else suite.tasks
    resolved = [resolve_task(suite, t) for t in tasks]
    jobs = [
        Job(task=t, pipeline=p, seed=seed)
        for p in pipelines
        for t in resolved
        if t.kind in get_pipeline_class(p.name).kinds
        for seed in seeds
    ]
    if not jobs:
        raise EditbenchError(f"no pipeline among {keys} accepts the task kinds of suite {suite.name}.")
    return Manifest(suite=suite, suite_hash=suite.content_hash(), pipelines=list(pipelines), seeds=list(seeds),
                    scorers=list(scorers), jobs=jobs, pipeline_configs=configs)


def resolve_task(suite: Suite, task):
    """A copy of ``task`` whose file paths are absolute (checked not to escape the data root)."""
    update = {}
    for f in ("image", "mask", "control", "reference", "target"):
        v = getattr(task, f)
        if isinstance(v, str):
            update[f] = str(suite.resolve_path(v, field=f"tasks[{task.task_id}].{f}"))
    return task.model_copy(update=update)


def prepare_out_dir(out: Path, *, resume: bool) -> set[tuple[str, str, int]]:
    """Create ``out`` (checking it is writable) and return the keys of rows already there."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise EditbenchError(f"output directory {out} is not writable: {e.strerror or e}.") from None
    done = done_keys(out)
    if done and not resume:
        raise EditbenchError(f"output directory {out} already holds {len(done)} result rows; pass --resume to "
                             "complete that run or choose another --out.")
    return done


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str))
    os.replace(tmp, path)


def _run_metadata(m: Manifest, out: Path, spec: RunSpec) -> dict:
    path = out / "run.json"
    meta = json.loads(path.read_text()) if path.exists() else {}
    if meta and meta.get("suite", {}).get("hash") not in (None, m.suite_hash):
        raise EditbenchError(f"{path} was written for a different suite content (hash "
                             f"{meta['suite']['hash'][:12]}, now {m.suite_hash[:12]}); resume it with the same suite.")
    meta.setdefault("run_id", f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}")
    meta.update({
        "suite": {"name": m.suite.name, "version": m.suite.version, "hash": m.suite_hash,
                  "source": m.suite.source_path, "n_tasks": len(m.suite.tasks),
                  "files": m.suite.file_hashes()},
        "pipelines": m.pipeline_configs,
        "seeds": m.seeds,
        "scorers": m.scorers,
        "spec": spec.model_dump(mode="json"),
        "packages": package_versions(),
        "git_sha": git_sha(),
        "hardware": hardware(),
    })
    meta.setdefault("start_time", _now())
    meta.setdefault("attempts", [])
    return meta


def init_ray(address: str | None):
    """Join ``address`` (or $RAY_ADDRESS) if given, else start a local Ray: no dashboard, loopback only."""
    import ray

    if ray.is_initialized():
        return ray, False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Local workers import this checkout (also when it is not the installed copy).
    os.environ["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    address = address or os.environ.get("RAY_ADDRESS")
    kwargs = dict(include_dashboard=False, logging_level="ERROR", log_to_driver=True, configure_logging=True)
    if address:
        ray.init(address=address, runtime_env={"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}}, **kwargs)
    else:
        ray.init(_node_ip_address="127.0.0.1", num_cpus=os.cpu_count(), **kwargs)
    return ray, True


class _Slot:
    """One actor and the jobs it holds (head = running)."""

    def __init__(self, pipeline: PipelineSpec, make):
        self.pipeline = pipeline
        self._make = make
        self.actor = make()
        self.queue: deque = deque()  # (ref, job)
        self.head_started = time.monotonic()

    def replace(self, ray) -> list[Job]:
        """Kill the actor, start a fresh one, and hand back the jobs it held."""
        ray.kill(self.actor, no_restart=True)
        jobs = [job for _, job in self.queue]
        self.queue.clear()
        self.actor = self._make()
        return jobs


class _Writer:
    """Buffers rows and flushes them to Parquet shards."""

    def __init__(self, out: Path, every: int):
        self.out, self.every, self.buf, self.written = out, every, [], 0

    def add(self, rec: dict) -> None:
        self.buf.append(rec)
        if len(self.buf) >= self.every:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            write_shard(self.out, self.buf)
            self.written += len(self.buf)
            self.buf = []


def run(spec: RunSpec, *, out: str | Path, progress: bool = True) -> Path:
    """Execute a run spec into ``out``; returns the output directory."""
    out = Path(out)
    manifest = build_manifest(spec)
    done = prepare_out_dir(out, resume=spec.resume)
    todo = [j for j in manifest.jobs if j.key not in done]
    meta = _run_metadata(manifest, out, spec)
    attempt = {"started": _now(), "jobs_total": len(manifest.jobs), "jobs_skipped": len(manifest.jobs) - len(todo)}
    meta["attempts"].append(attempt)
    meta["status"] = "running"
    _write_json(out / "run.json", meta)

    counts = {"ok": 0, "error": 0, "timeout": 0}
    writer = _Writer(out, spec.flush_every)
    try:
        if todo:
            _dispatch(todo, manifest, spec, out, meta["run_id"], writer, counts, progress)
    finally:
        writer.flush()
        attempt.update(finished=_now(), rows_written=writer.written, **counts)
        meta["end_time"] = _now()
        meta["status"] = "complete" if len(done_keys(out)) >= len(manifest.jobs) else "incomplete"
        _write_json(out / "run.json", meta)
    return out


def _dispatch(todo, manifest, spec, out, run_id, writer, counts, progress):
    from tqdm import tqdm

    ray, started_here = init_ray(spec.address)
    RemoteWorker = ray.remote(Worker)
    n_actors = len(manifest.pipelines) * spec.actors_per_pipeline
    cpus = ray.cluster_resources().get("CPU", 1.0)
    num_cpus = 0.0 if spec.num_gpus_per_actor else min(1.0, cpus / n_actors)

    def maker(p: PipelineSpec):
        return lambda: RemoteWorker.options(num_cpus=num_cpus, num_gpus=spec.num_gpus_per_actor).remote(
            p, manifest.scorers, out=str(out.resolve()), run_id=run_id, suite=manifest.suite.name)

    queues = {p.key: deque(j for j in todo if j.pipeline.key == p.key) for p in manifest.pipelines}
    slots = [_Slot(p, maker(p)) for p in manifest.pipelines if queues[p.key]
             for _ in range(spec.actors_per_pipeline)]
    inflight: dict = {}  # ref -> slot
    bar = tqdm(total=len(todo), desc=f"editbench {manifest.suite.name}", unit="job", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)

    def fill(slot: _Slot) -> None:
        q = queues[slot.pipeline.key]
        while q and len(slot.queue) < JOBS_PER_ACTOR:
            job = q.popleft()
            ref = slot.actor.run.remote(job)
            if not slot.queue:
                slot.head_started = time.monotonic()
            slot.queue.append((ref, job))
            inflight[ref] = slot

    def record(rec: dict) -> None:
        writer.add(rec)
        counts[rec["status"]] += 1
        bar.update(1)
        bar.set_postfix(errors=counts["error"], timeouts=counts["timeout"], refresh=False)

    def failed_row(job: Job, status: str, msg: str) -> dict:
        return ResultRow(run_id=run_id, suite=manifest.suite.name, task_id=job.task.task_id, kind=job.task.kind,
                         pipeline=job.pipeline.key, seed=job.seed, status=status, error=msg,
                         attempt=job.attempt, params=dict(job.task.params)).to_record()

    def requeue(slot: _Slot, jobs: list[Job]) -> None:
        for j in reversed(jobs):
            queues[slot.pipeline.key].appendleft(j)
            # refs of the dead actor are dropped from inflight by the caller

    try:
        for s in slots:
            fill(s)
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.2)
            for ref in ready:
                slot = inflight.pop(ref)
                if not slot.queue or slot.queue[0][0] != ref:
                    continue  # result of a replaced actor
                _, job = slot.queue.popleft()
                slot.head_started = time.monotonic()
                try:
                    record(ray.get(ref))
                except ray.exceptions.RayActorError as e:
                    others = slot.replace(ray)
                    for r in list(inflight):
                        if inflight[r] is slot:
                            del inflight[r]
                    if job.attempt <= spec.max_retries:
                        others = [Job(job.task, job.pipeline, job.seed, job.attempt + 1)] + others
                    else:
                        record(failed_row(job, "error", f"actor died {job.attempt} time(s) running this task: "
                                                       f"{' '.join(str(e).split())[:300]}"))
                    requeue(slot, others)
                except Exception as e:  # noqa: BLE001 - e.g. a task that failed to deserialize
                    record(failed_row(job, "error", f"{type(e).__name__}: {' '.join(str(e).split())[:500]}"))
                fill(slot)
            if spec.task_timeout_s:
                now = time.monotonic()
                for slot in {id(s): s for s in inflight.values()}.values():
                    if slot.queue and now - slot.head_started > spec.task_timeout_s:
                        _, job = slot.queue.popleft()
                        for r in list(inflight):
                            if inflight[r] is slot:
                                del inflight[r]
                        others = slot.replace(ray)
                        record(failed_row(job, "timeout", f"task exceeded its time limit of {spec.task_timeout_s:g} s"))
                        requeue(slot, others)
                        fill(slot)
    finally:
        bar.close()
        for s in slots:
            ray.kill(s.actor, no_restart=True)
        if started_here:
            ray.shutdown()
