"""Run orchestration: validate the manifest, fan jobs out to Ray actors, stream rows to Parquet.

Flow of :func:`run`:
1. :func:`build_manifest` loads the suite, resolves pipelines/seeds/scorers (CLI > run spec > suite
   defaults), builds every pipeline's options and checks its weights; nothing starts before the whole
   manifest validates.
2. The output directory is prepared; with ``resume`` the (task, pipeline, seed) rows already on disk
   are skipped, otherwise an output directory that already holds results is refused.
3. :func:`plan_actors` sizes a pool per pipeline (one actor per GPU for GPU pipelines, CPU slots
   otherwise); each actor (:class:`harness.worker.Worker`) loads its pipeline once and holds
   ``queue_depth`` jobs (default 2: one running, one queued, so it never waits on the driver). The inputs of the
   next job are decoded by a Ray task while the current one runs and reach the actor through the
   object store, not the driver. With scoring
   ``pool``, outputs go from the pipeline actor to scorer actors through the object store, so
   generation and scoring overlap; with ``inline`` the pipeline actor scores.
4. Finished rows are written as Parquet shards (every ``flush_every`` rows or ``flush_seconds``); a
   job over its time limit (timed from the start its actor reports to the run's StartBoard, so loading
   never counts) becomes a ``timeout`` row and its actor is replaced; an actor whose process
   died is replaced and its job retried up to ``max_retries`` times, then recorded as an error.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from harness.errors import EXIT_OK, EXIT_ROWS_FAILED, EditbenchError, InfrastructureError
from harness.imageio import MAX_PIXELS_ENV, max_pixels
from harness.masks import is_sam_recipe, resolve_recipe_paths
from harness.overrides import Coverage, check_overrides, check_sweep, schedule
from harness.pipelines.base import build_pipeline, get_pipeline_class
from harness.provenance import git_sha, hardware, package_versions
from harness.ray_local import loopback_only, start_ray_watchdog
from harness.spec import PipelineSpec, RunSpec, expand_grid, grid_axes
from harness.storage import RunLock, atomic_write_text, infrastructure_error
from harness.worker import Job, StartBoard, Worker, new_row, one_line
from reports.meta import choose_primary, is_stage_column, metrics_record, primary_metric
from reports.results import done_keys, read_results, results_dir, write_fallback, write_shard
from scorers.base import get_scorer_class
from tasks.schema import Suite, load_suite
from tasks.validate import check_suite

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Manifest:
    suite: Suite
    suite_hash: str
    pipelines: list[PipelineSpec]
    seeds: list[int]
    scorers: list[str]
    jobs: list[Job]
    scorer_options: dict[str, dict] = field(default_factory=dict)
    pipeline_configs: list[dict] = field(default_factory=list)
    sweep: list[str] = field(default_factory=list)          # declared sweep axes (suite sweep: + grid options)
    metrics: dict[str, dict] = field(default_factory=dict)  # run.json metrics record (reports.meta)
    coverage: Coverage | None = None                        # tasks each pipeline runs / skips

    @property
    def skipped(self) -> dict[str, int]:
        """pipeline key -> tasks of kinds it cannot run (only pipelines that skip some)."""
        return {k: len(v) for k, v in self.coverage.skips.items() if v} if self.coverage else {}


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
    check_seeds(seeds)
    keys = [p.key for p in pipelines]
    if len(set(keys)) != len(keys):
        raise EditbenchError(f"pipelines {keys} repeat a name; give repeated pipelines distinct labels.")
    configs = []
    for p in pipelines:
        adapter = build_pipeline(p)       # unknown name or bad options -> EditbenchError
        adapter.check()                   # missing weights -> EditbenchError naming the expected path
        configs.append(adapter.describe())
    stray = sorted(set(spec.scorer_options) - set(scorers))
    if stray:
        raise EditbenchError(f"scorer_options name scorers {stray} that the run does not use (it uses {scorers}).")
    for s in scorers:
        get_scorer_class(s)(**spec.scorer_options.get(s, {})).check()  # unknown name, bad options, missing weights
    tasks = suite.tasks[: spec.limit] if spec.limit else suite.tasks
    check_overrides(suite, tasks, pipelines)     # an override some pipeline cannot honour: nothing runs
    coverage = schedule(tasks, pipelines, suite=suite.name)   # a pipeline that can run no task: nothing runs
    sweep = list(dict.fromkeys([*suite.sweep, *grid_axes(spec.grid)]))
    check_sweep(suite, sweep, grid_axes=grid_axes(spec.grid))
    resolved = [resolve_task(suite, t) for t in tasks]
    jobs = [
        Job(task=t, pipeline=p, seed=seed)
        for p in pipelines
        for t in resolved
        if t.kind in get_pipeline_class(p.name).kinds
        for seed in seeds
    ]
    for c, p in zip(configs, pipelines):
        c["tasks"] = len(coverage.runs[p.key])
        c["tasks_skipped"] = len(coverage.skips[p.key])
        if p.grid_of:
            c["grid_of"], c["grid_point"] = p.grid_of, dict(p.grid_point)
    metrics = metrics_record(scorers, primary=None)
    primary = choose_primary(metrics, [t.kind for t in tasks], spec.primary or suite.primary)
    if primary is not None and primary not in metrics:
        raise EditbenchError(f"primary metric {primary!r} is not a column of this run; its scorers {scorers} "
                             f"give {sorted(metrics)}.")
    metrics = metrics_record(scorers, primary=primary)
    return Manifest(suite=suite, suite_hash=suite.content_hash(), pipelines=list(pipelines), seeds=list(seeds),
                    scorers=list(scorers), jobs=jobs, pipeline_configs=configs, scorer_options=dict(spec.scorer_options),
                    sweep=sweep, metrics=metrics, coverage=coverage)


def resolve_task(suite: Suite, task):
    """A copy of ``task`` whose file paths are absolute (checked not to escape the data root)."""
    update = {}
    for f in ("image", "mask", "control", "reference", "target"):
        v = getattr(task, f)
        if isinstance(v, str):
            update[f] = str(suite.resolve_path(v, field=f"tasks[{task.task_id}].{f}"))
    if is_sam_recipe(task.mask):          # its reference mask and weights folder
        update["mask"] = resolve_recipe_paths(suite, task)
    return task.model_copy(update=update)


def prepare_out_dir(out: Path) -> RunLock:
    """Create ``out``, check it is writable, and take its run lock (one writer per run directory).

    The caller releases the returned lock; a second writer is refused with a sentence naming the holder.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise EditbenchError(f"output directory {out} is not writable: {e.strerror or e}.") from None
    return RunLock(out, command="editbench run").acquire()


def check_seeds(seeds: list[int]) -> None:
    """Seeds are stored in an int64 column: each must be an integer in [0, 2**63)."""
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**63:
            raise EditbenchError(f"seed {s!r} must be an integer from 0 to 2**63 - 1 (seeds are stored as int64).")


def check_resume(old: dict, manifest: "Manifest", *, extend: bool) -> None:
    """Refuse a resume whose seeds, pipelines or scorers differ from the run's (unless ``extend``)."""
    if not old or extend:
        return
    now = {"seeds": set(manifest.seeds), "scorers": set(manifest.scorers),
           "pipelines": {p.key for p in manifest.pipelines}}
    was = {"seeds": set(old.get("seeds") or []), "scorers": set(old.get("scorers") or []),
           "pipelines": {p.get("label") or p.get("name") for p in old.get("pipelines") or []}}
    changed = [k for k in ("seeds", "pipelines", "scorers") if was[k] != now[k]]
    if changed:
        k = changed[0]
        raise EditbenchError(f"--resume with other {k} than the run's ({sorted(was[k], key=str)} in run.json, now "
                             f"{sorted(now[k], key=str)}); rerun with the same {', '.join(changed)}, or add --extend "
                             "to add the new ones to the run.")


def _read_meta(out: Path) -> dict:
    path = out / "run.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise EditbenchError(f"{path} cannot be read as JSON ({type(e).__name__}); it is not a usable run "
                             "to resume.") from None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str))


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
        "sweep": m.sweep,
        "primary": primary_metric(m.metrics),
        "metrics": m.metrics,
        "spec": spec.model_dump(mode="json"),
        "packages": package_versions(),
        "git_sha": git_sha(),
        "hardware": hardware(),
    })
    meta.setdefault("start_time", _now())
    meta.setdefault("attempts", [])
    return meta


def init_ray(address: str | None):
    """Join ``address`` (or $RAY_ADDRESS) if given, else start a local Ray: no dashboard, loopback only.

    Ray 2.60 binds its GCS, raylet, workers and agents to the node address, which it replaces by the
    machine's routable address even when ``_node_ip_address="127.0.0.1"`` is given, unless
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is in the environment when ``ray`` is imported (Ray reads it
    into ``ray_constants`` then); :func:`harness.ray_local.loopback_only` sets it for a local Ray only
    (a driver joining a remote cluster must advertise a routable address). A watchdog process kills the
    local Ray's processes when the driver dies without shutting it down (e.g. SIGKILL by the OOM killer)."""
    address = address or os.environ.get("RAY_ADDRESS")
    if address == "local":
        address = None
    if not address:
        loopback_only()  # before `import ray` where possible (see harness.ray_local)
    import ray

    if ray.is_initialized():
        return ray, False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault(MAX_PIXELS_ENV, str(max_pixels()))  # actors check images against the same limit
    # Local workers import this checkout (also when it is not the installed copy).
    os.environ["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    kwargs = dict(include_dashboard=False, logging_level="ERROR", log_to_driver=True, configure_logging=True)
    if address:
        env = {k: os.environ[k] for k in ("PYTHONPATH", MAX_PIXELS_ENV)}
        ray.init(address=address, runtime_env={"env_vars": env}, **kwargs)
    else:  # "local": never join a cluster some other process on this machine started
        ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=os.cpu_count(), **kwargs)
        start_ray_watchdog()
    return ray, True


@dataclass
class ActorPlan:
    """How many actors each pipeline gets and what each reserves."""

    actors: dict[str, int]          # pipeline key -> number of actors
    num_gpus: dict[str, float]      # pipeline key -> GPUs per actor
    num_cpus: float                 # CPUs reserved per pipeline actor
    scoring: str                    # "inline" | "pool"


def plan_actors(spec: RunSpec, pipelines: list[PipelineSpec], resources: dict) -> ActorPlan:
    """Size actor pools to the cluster: one actor per GPU for GPU pipelines, CPU slots otherwise."""
    gpus, cpus = float(resources.get("GPU", 0.0)), float(resources.get("CPU", 1.0))
    gpu_pipes = [p.key for p in pipelines if gpus >= 1e-9 and get_pipeline_class(p.name).uses_gpu]
    num_gpus, actors = {}, {}
    for p in pipelines:
        on_gpu = p.key in gpu_pipes
        if spec.num_gpus_per_actor is not None:
            g = spec.num_gpus_per_actor if on_gpu or spec.num_gpus_per_actor > 0 else 0.0
        else:
            g = min(1.0, gpus / len(gpu_pipes)) if on_gpu else 0.0
        num_gpus[p.key] = g
        if spec.actors_per_pipeline is not None:
            actors[p.key] = spec.actors_per_pipeline
        elif get_pipeline_class(p.name).concurrent:
            actors[p.key] = 1          # one actor runs its requests concurrently (PipelineSpec.concurrency)
        elif g > 0:
            actors[p.key] = max(1, int(gpus // (g * len(gpu_pipes))))
        else:
            actors[p.key] = max(1, int(cpus // len(pipelines)))
    total = sum(actors.values())
    scoring = spec.scoring if spec.scoring != "auto" else ("pool" if gpu_pipes else "inline")
    reserved = spec.scorer_actors if scoring == "pool" else 0
    # One CPU per actor while they fit; with more actors than CPUs they time-share instead (a fractional
    # reservation could still fail to pack onto nodes of one CPU each).
    num_cpus = 1.0 if total + reserved <= cpus else 0.0
    return ActorPlan(actors=actors, num_gpus=num_gpus, num_cpus=num_cpus, scoring=scoring)


def in_flight(spec: RunSpec, p: PipelineSpec) -> tuple[int, bool]:
    """(jobs one actor of ``p`` holds, whether it runs them at once): ``p.concurrency``, else the
    pipeline's default (hosted: 8, concurrent), else the run's ``queue_depth`` (one running)."""
    cls = get_pipeline_class(p.name)
    return p.concurrency or cls.default_concurrency or spec.queue_depth, cls.concurrent


class _Slot:
    """One pipeline actor and the jobs it holds, oldest first (= running, unless ``concurrent``: then
    all of them run and may finish in any order).

    Each actor incarnation has a token under which it reports the start of every job to the run's
    :class:`harness.worker.StartBoard`; task time limits run from that start (not from submission,
    so actor start-up and model loading never count), and when the actor dies the board names the
    job that killed it (Ray can lose the reply of a job that finished just before the death, so "the
    oldest unanswered job" is not always the culprit). ``ping`` is the actor's load call: it must
    return within the load timeout.
    """

    def __init__(self, pipeline: PipelineSpec, make, *, depth: int = 2, concurrent: bool = False):
        self.pipeline = pipeline
        self._make = make
        self.depth, self.concurrent = depth, concurrent
        self.queue: deque = deque()  # of (row_ref, job)
        self.submitted: dict = {}    # row_ref -> submit time (concurrent: the job's start)
        self.head_started = time.monotonic()
        self._start()

    def pop(self, ref) -> Job:
        """Remove the job of ``ref`` (the head unless concurrent) and restart the head's clock."""
        i = next(i for i, (r, _) in enumerate(self.queue) if r == ref)
        job = self.queue[i][1]
        del self.queue[i]
        self.submitted.pop(ref, None)
        now = time.monotonic()
        self.head_started = self.submitted.get(self.queue[0][0], now) if self.concurrent and self.queue else now
        return job

    def waiting(self) -> list:
        """Refs that can finish next: the running job, or every held job of a concurrent actor."""
        return [r for r, _ in self.queue] if self.concurrent else [r for r, _ in list(self.queue)[:1]]

    def _start(self) -> None:
        self.token = uuid.uuid4().hex
        self.actor = self._make(self.token)
        self.ping = self.actor.ping.remote()
        self.created = time.monotonic()
        self.loaded = False

    def running(self, snapshot: dict) -> tuple[tuple[str, str, int], float] | None:
        """(key, seconds since its start) of the job this incarnation started last, if any."""
        return snapshot.get(self.token)

    def replace(self, ray, board) -> list[Job]:
        """Kill the actor, start a fresh one, and hand back the jobs it still held."""
        ray.kill(self.actor, no_restart=True)
        board.forget.remote(self.token)
        jobs = [job for _, job in self.queue]
        self.queue.clear()
        self.submitted.clear()
        self._start()
        return jobs


class _Writer:
    """Buffers finished rows and flushes them to Parquet shards (every N rows or T seconds).

    A shard that cannot be written for a reason other than the storage (a column pyarrow cannot convert)
    goes to a JSON-lines fallback file that readers and ``--resume`` read too, so no computed row is lost.
    A storage failure (disk full, permission, I/O) raises InfrastructureError; the buffered rows are
    then recomputed by ``--resume``.
    """

    def __init__(self, out: Path, every: int, seconds: float):
        self.out, self.every, self.seconds = out, every, seconds
        self.buf: list[dict] = []
        self.written = 0
        self.fallback = 0
        self.last = time.monotonic()

    def add(self, rec: dict) -> None:
        self.buf.append(rec)
        if len(self.buf) >= self.every or time.monotonic() - self.last > self.seconds:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            try:
                write_shard(self.out, self.buf)
            except Exception as e:  # noqa: BLE001 - classified below; the rows must reach the disk somehow
                infra = infrastructure_error(e, results_dir(self.out))
                if infra is not None:
                    raise infra from None
                path = write_fallback(self.out, self.buf)
                self.fallback += len(self.buf)
                print(f"editbench: warning: a Parquet shard could not be written ({one_line(e)}); its "
                      f"{len(self.buf)} rows went to {path}", file=sys.stderr)
            self.written += len(self.buf)
            self.buf = []
        self.last = time.monotonic()


def _storage_error(path: Path, e: OSError) -> InfrastructureError:
    return InfrastructureError(f"could not write {path}: {e.strerror or e}; the rows written before are kept — fix "
                               "the storage and finish the run with --resume.")


def run(spec: RunSpec, *, out: str | Path, progress: bool = True) -> Path:
    """Execute a run spec into ``out``; returns the output directory.

    Rows stream to disk as they finish; an interrupted run keeps every flushed row and is completed
    with ``resume=True``. The run holds ``out``'s lock throughout (one writer per run directory).
    run.json records the planned job keys and, at the end, the status computed from the keys on disk.
    At the end the leaderboard is written (best effort).
    """
    out = Path(out)
    limit = os.environ.get(MAX_PIXELS_ENV)
    if spec.max_pixels is not None:  # validation and the actors of a Ray started here read it
        os.environ[MAX_PIXELS_ENV] = str(spec.max_pixels)
    try:
        manifest = build_manifest(spec)
        lock = prepare_out_dir(out)
        try:
            _run_locked(spec, manifest, out, progress)
        finally:
            lock.release()
    finally:
        if limit is None:
            os.environ.pop(MAX_PIXELS_ENV, None)
        else:
            os.environ[MAX_PIXELS_ENV] = limit
    _write_report(out)
    return out


def _run_locked(spec: RunSpec, manifest: Manifest, out: Path, progress: bool) -> None:
    done = done_keys(out)
    if done and not spec.resume:
        raise EditbenchError(f"output directory {out} already holds {len(done)} result rows; pass --resume to "
                             "complete that run or choose another --out.")
    old = _read_meta(out)
    if spec.resume:
        check_resume(old, manifest, extend=spec.extend)
    planned = {j.key for j in manifest.jobs}
    todo = [j for j in manifest.jobs if j.key not in done]
    meta = _run_metadata(manifest, out, spec)
    if spec.resume and spec.extend and old:
        planned |= {(str(t), str(p), int(s)) for t, p, s in old.get("jobs", {}).get("planned", [])}
        meta["seeds"] = sorted(set(old.get("seeds") or []) | set(manifest.seeds))
        meta["scorers"] = list(dict.fromkeys([*(old.get("scorers") or []), *manifest.scorers]))
        labels = {c.get("label") for c in meta["pipelines"]}
        meta["pipelines"] = [c for c in old.get("pipelines") or [] if c.get("label") not in labels] + meta["pipelines"]
    attempt = {"started": _now(), "pid": os.getpid(), "host": socket.gethostname(), "extend": spec.extend,
               "jobs_total": len(manifest.jobs), "jobs_skipped": len(manifest.jobs) - len(todo),
               "unsupported_tasks": manifest.skipped}
    meta["attempts"].append(attempt)
    meta["jobs"] = {"planned": sorted(planned)}
    meta["status"] = "running"
    _write_json(out / "run.json", meta)

    for note in manifest.coverage.notes() if manifest.coverage else []:
        print(f"editbench: {note}.", file=sys.stderr)
    counts = {"ok": 0, "error": 0, "timeout": 0}
    writer = _Writer(out, spec.flush_every, spec.flush_seconds)
    t0 = time.monotonic()
    try:
        if todo:
            attempt.update(_dispatch(todo, manifest, spec, out, meta["run_id"], writer, counts, progress))
    except InfrastructureError as e:
        attempt["infrastructure_error"] = str(e)
        raise
    except OSError as e:  # a write of the driver into <out> (journal, shard) failed
        infra = infrastructure_error(e, out)
        if infra is None:
            raise
        attempt["infrastructure_error"] = str(infra)
        raise infra from None
    except KeyboardInterrupt:
        attempt["interrupted"] = True
        raise
    finally:
        try:
            writer.flush()
        except InfrastructureError as e:
            attempt.setdefault("infrastructure_error", str(e))
        attempt.update(finished=_now(), rows_written=writer.written, rows_in_fallback=writer.fallback, **counts)
        missing = planned - done_keys(out)
        meta["jobs"].update(done=len(planned) - len(missing), missing=sorted(missing)[:1000])
        meta["end_time"] = _now()
        meta["status"] = "complete" if not missing else "incomplete"
        _record_resolved(out, meta)
        try:
            _write_json(out / "run.json", meta)
        except InfrastructureError as e:
            attempt.setdefault("infrastructure_error", str(e))
    if "infrastructure_error" in attempt:  # the last shard or run.json could not be written
        raise InfrastructureError(attempt["infrastructure_error"])
    secs = time.monotonic() - t0   # the summary line is printed with and without --no-progress
    print(f"editbench: {len(todo)} jobs in {secs:.1f} s ({len(todo) / max(secs, 1e-9):.2f} jobs/s): "
          f"{counts['ok']} ok, {counts['error']} error, {counts['timeout']} timeout; "
          f"{attempt['jobs_skipped']} already on disk", file=sys.stderr)


def _record_resolved(out: Path, meta: dict) -> None:
    """What the rows say actually ran: per pipeline the resolved device/dtype (a list when actors
    differed), and the per-stage latency columns in the metrics record."""
    try:
        df = read_results(out)
    except Exception:  # noqa: BLE001 - provenance only; the rows themselves are on disk
        return
    for c in meta.get("pipelines", []):
        rows = df[df["pipeline"] == c.get("label")] if "pipeline" in df else df.iloc[:0]
        for col in ("device", "dtype"):
            vals = sorted({str(v) for v in rows[col].dropna()}) if col in rows else []
            if vals:
                c.setdefault("resolved", {})[col] = vals[0] if len(vals) == 1 else vals
    stages = [c for c in df.columns if is_stage_column(c)]
    primary = primary_metric(meta.get("metrics", {}))
    record = meta.get("metrics", {})
    for col in stages:
        if col not in record:
            record[col] = metrics_record([], [col], primary=primary)[col]


def run_exit_code(out: str | Path) -> int:
    """Exit code of a finished run (harness.errors): EXIT_OK when every row on disk is ok, else
    EXIT_ROWS_FAILED (the rows are kept; ``--resume`` does not redo them)."""
    from reports.results import read_results

    df = read_results(out)
    return EXIT_ROWS_FAILED if len(df) and (df["status"] != "ok").any() else EXIT_OK


def _write_report(out: Path) -> None:
    from reports.leaderboard import write_report

    try:
        write_report(out)
    except Exception as e:  # noqa: BLE001 - the rows are on disk; the report can be rebuilt with `editbench report`
        print(f"editbench: warning: could not write the leaderboard ({e}); run `editbench report {out}`",
              file=sys.stderr)


def _raise_if_infrastructure(e: BaseException) -> None:
    """Raise InfrastructureError in the driver when an actor failed on storage: an InfrastructureError or
    an OSError such as ENOSPC, wrapped by Ray as the ``cause`` of a RayTaskError."""
    for err in (e, getattr(e, "cause", None)):
        infra = infrastructure_error(err) if isinstance(err, BaseException) else None
        if infra is not None:
            raise InfrastructureError(str(infra)) from None


def _load_inputs(task):
    from harness.imageio import prefetch_task_inputs

    return prefetch_task_inputs(task)


def _has_files(task) -> bool:
    return any(isinstance(getattr(task, f), str) for f in ("image", "mask", "control", "reference", "target"))


def _dispatch(todo, manifest, spec, out, run_id, writer, counts, progress) -> dict:
    """Fan ``todo`` out to actor pools; returns timing figures for run.json."""
    from tqdm import tqdm

    from harness.worker import ScorerWorker

    ray, started_here = init_ray(spec.address)
    plan = plan_actors(spec, manifest.pipelines, ray.cluster_resources())
    pool = plan.scoring == "pool"
    RemoteWorker = ray.remote(Worker)
    RemoteScorer = ray.remote(ScorerWorker)
    load_inputs = ray.remote(num_cpus=0)(_load_inputs) if spec.prefetch else None
    out_abs = str(out.resolve())

    board = ray.remote(num_cpus=0)(StartBoard).remote()

    def maker(p: PipelineSpec):
        depth, concurrent = in_flight(spec, p)
        return lambda token: RemoteWorker.options(num_cpus=plan.num_cpus, num_gpus=plan.num_gpus[p.key],
                                                  max_concurrency=depth if concurrent else 1).remote(
            p, manifest.scorers, out=out_abs, run_id=run_id, suite=manifest.suite.name, score_inline=not pool,
            scorer_options=manifest.scorer_options, board=board, token=token)

    def make_scorer():
        return RemoteScorer.options(num_cpus=plan.num_cpus, num_gpus=spec.num_gpus_per_scorer).remote(
            manifest.scorers, out=out_abs, scorer_options=manifest.scorer_options)

    queues = {p.key: deque(j for j in todo if j.pipeline.key == p.key) for p in manifest.pipelines}
    slots = [_Slot(p, maker(p), depth=in_flight(spec, p)[0], concurrent=in_flight(spec, p)[1])
             for p in manifest.pipelines if queues[p.key] for _ in range(plan.actors[p.key])]
    scorers = [make_scorer() for _ in range(spec.scorer_actors)] if pool else []
    pings = [s.ping for s in slots] + [s.ping.remote() for s in scorers]  # load before timing
    load_timeout = spec.load_timeout_s if spec.load_timeout_s is not None else spec.actor_start_timeout_s
    started, _ = ray.wait(pings, num_returns=len(pings), timeout=load_timeout)
    if len(started) < len(pings):
        for s in slots:
            ray.kill(s.actor, no_restart=True)
        ray.kill(board, no_restart=True)
        raise EditbenchError(
            f"only {len(started)} of {len(pings)} actors started and loaded their pipeline within the load timeout of "
            f"{load_timeout:g} s (load_timeout_s / --load-timeout); the cluster offers {ray.cluster_resources()} and "
            f"the run asks for {plan.actors} actors with {plan.num_cpus:g} CPU and {plan.num_gpus} GPU each (raise "
            f"the load timeout for slow-loading models, or lower actors_per_pipeline or num_gpus_per_actor).")
    for s in slots:
        s.loaded = True

    gen: dict = {}      # row_ref -> (slot, out_ref)
    scoring: dict = {}  # ref -> (batch of (job, row, output ref), scorer index)
    to_score: list = []  # generated ok rows waiting for a scorer actor
    next_scorer = 0
    bar = tqdm(total=len(todo), desc=f"editbench {manifest.suite.name}", unit="job", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    timing = {"actors": {k: v for k, v in plan.actors.items() if queues.get(k)}, "scoring": plan.scoring,
              "num_gpus_per_actor": plan.num_gpus}
    t_start = time.monotonic()
    first_row = None

    prefetching: dict = {}  # job key -> ref of its decoded inputs

    def inputs_for(job: Job):
        if load_inputs is None or not _has_files(job.task):
            return None
        return prefetching.pop(job.key, None) or load_inputs.remote(job.task)

    def submit(slot: _Slot) -> None:
        q = queues[slot.pipeline.key]
        while q and len(slot.queue) < slot.depth:
            job = q.popleft()
            inputs = inputs_for(job)
            if pool:
                row_ref, out_ref = slot.actor.generate.options(num_returns=2).remote(job, inputs)
            else:
                row_ref, out_ref = slot.actor.run.remote(job, inputs), None
            slot.queue.append((row_ref, job))
            slot.submitted[row_ref] = time.monotonic()
            gen[row_ref] = (slot, out_ref)
        if q and load_inputs is not None and _has_files(q[0].task) and q[0].key not in prefetching:
            prefetching[q[0].key] = load_inputs.remote(q[0].task)  # decoded while the current job runs

    def record(rec: dict) -> None:
        nonlocal first_row
        first_row = first_row or time.monotonic()
        writer.add(rec)
        counts[rec["status"]] += 1
        bar.update(1)
        bar.set_postfix(errors=counts["error"], timeouts=counts["timeout"], refresh=False)

    def failed(job: Job, status: str, msg: str) -> dict:
        return new_row(job, run_id=run_id, suite=manifest.suite.name, status=status, error=msg).to_record()

    def drop(slot: _Slot) -> None:
        for r in [r for r, (s, _) in gen.items() if s is slot]:
            del gen[r]

    def restart(slot: _Slot, job: Job, failure: str | None) -> None:
        """Replace a dead or hung actor. ``failure``: record ``job`` as timeout with this message;
        None: the actor died, so the job the start board names (``job`` if it names none) is retried, or
        recorded as an error once its retries are used up; the other jobs it held go back unchanged."""
        drop(slot)
        culprit = None
        if failure is None:
            last = slot.running(ray.get(board.snapshot.remote()))
            culprit = last[0] if last else None
        held = [job, *slot.replace(ray, board)]
        if failure is not None:
            record(failed(job, "timeout", failure))
            held = held[1:]
        elif culprit is None or culprit not in {j.key for j in held}:
            culprit = job.key
        requeue = []
        for j in held:
            if j.key != culprit:
                requeue.append(j)
            elif j.attempt <= spec.max_retries:
                requeue.append(j.retry())
            else:
                record(failed(j, "error", f"the actor process died on each of {j.attempt} attempts at this task"))
        queues[slot.pipeline.key].extendleft(reversed(requeue))
        submit(slot)

    def check_loads() -> None:
        """A replacement actor must load its pipeline within the load timeout; one that does not is
        replaced again and the job it held first becomes an error row (the others go back)."""
        now = time.monotonic()
        for slot in slots:
            if slot.loaded:
                continue
            if ray.wait([slot.ping], timeout=0)[0]:
                slot.loaded = True
            elif now - slot.created > load_timeout:
                drop(slot)
                held = slot.replace(ray, board)
                if held:
                    record(failed(held[0], "error", f"the pipeline did not load within the load timeout of "
                                                    f"{load_timeout:g} s"))
                queues[slot.pipeline.key].extendleft(reversed(held[1:]))
                submit(slot)

    def on_generated(ref) -> None:
        slot, out_ref = gen.pop(ref)
        job = slot.pop(ref)
        try:
            result = ray.get(ref)
        except ray.exceptions.RayActorError:
            restart(slot, job, None)
            return
        except Exception as e:  # noqa: BLE001 - e.g. a job that could not be deserialised
            _raise_if_infrastructure(e)
            record(failed(job, "error", one_line(e)[:500]))
        else:
            if not pool:
                record(result)
            elif result.status != "ok":
                record(result.to_record())
            else:
                to_score.append((job, result, out_ref))
        submit(slot)

    def send_to_scorers() -> None:
        """Adaptive batching: a batch goes out when it is full or when a scorer actor is idle, so
        batches grow only while the scorers are the bottleneck."""
        nonlocal next_scorer
        while to_score and (len(to_score) >= spec.score_batch or len(scoring) < len(scorers)):
            batch = to_score[: spec.score_batch]
            del to_score[: spec.score_batch]
            i = next_scorer % len(scorers)
            next_scorer += 1
            ref = scorers[i].finish.remote([b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch])
            scoring[ref] = (batch, i)

    def on_scored(ref) -> None:
        batch, i = scoring.pop(ref)
        try:
            for rec in ray.get(ref):
                record(rec)
        except Exception as e:  # noqa: BLE001 - scorer actor died: keep the generated rows, metrics NaN
            _raise_if_infrastructure(e)
            if isinstance(e, ray.exceptions.RayActorError):
                ray.kill(scorers[i], no_restart=True)
                scorers[i] = make_scorer()
            for _, row, _ in batch:
                row.score_error = f"scoring failed: {one_line(e)}"[:500]
                record(row.to_record())

    try:
        for s in slots:
            submit(s)
        while gen or scoring or to_score:
            send_to_scorers()
            heads = [r for s in slots for r in s.waiting()]  # only running jobs can finish first
            ready, _ = ray.wait(heads + list(scoring), num_returns=1, timeout=0.2)
            for ref in ready:
                if ref in scoring:
                    on_scored(ref)
                elif ref in gen:
                    on_generated(ref)
            check_loads()
            if spec.task_timeout_s:
                snapshot = ray.get(board.snapshot.remote())
                for slot in slots:
                    if not slot.queue:
                        continue
                    ref, job = slot.queue[0]
                    if slot.concurrent:   # every held job runs: the head's clock runs from its submission
                        started = slot.submitted.get(ref)
                        over = started is not None and time.monotonic() - started > spec.task_timeout_s
                    else:                 # the clock runs from the start the actor reported for its head job
                        last = slot.running(snapshot)
                        over = bool(last) and last[0] == job.key and last[1] > spec.task_timeout_s
                    if over:
                        gen.pop(ref, None)
                        slot.pop(ref)
                        restart(slot, job, f"task exceeded its time limit of {spec.task_timeout_s:g} s")
    finally:
        bar.close()
        for s in slots:
            ray.kill(s.actor, no_restart=True)
        for s in scorers:
            ray.kill(s, no_restart=True)
        ray.kill(board, no_restart=True)
        if started_here:
            ray.shutdown()
    end = time.monotonic()
    timing.update(dispatch_s=round(end - t_start, 4),
                  first_row_s=round((first_row or end) - t_start, 4), jobs=len(todo))
    return timing
