"""Run orchestration: validate the manifest, fan jobs out to Ray actors, stream rows to Parquet.

:func:`run` is five stages:
1. manifest: :func:`build_manifest` loads the suite, resolves pipelines/seeds/scorers (CLI > run spec >
   suite defaults), builds every pipeline's options and checks its weights; nothing starts before the
   whole manifest validates.
2. output location: :func:`prepare_out_dir` checks it is writable and takes its run lock.
3. metadata: :func:`begin_attempt` skips the (task, pipeline, seed) rows already there with ``resume``
   (and refuses results there without it) and writes run.json with the planned jobs.
4. dispatch: :func:`execute` sizes the actor pools (:func:`plan_actors`: one actor per GPU for GPU
   pipelines, CPU slots otherwise; each holds :func:`in_flight` jobs) and hands the jobs to
   :class:`harness.execution.dispatch.Dispatcher` (retries, time limits, the scorer pool) over Ray
   (:class:`harness.execution.ray_actors.RayActors`). The inputs of an actor's next job are decoded by a Ray task
   while the current one runs; with scoring ``pool`` outputs go from pipeline actors to scorer actors
   through the object store, so generation and scoring overlap. Rows are written as Parquet shards
   (every ``flush_every`` rows or ``flush_seconds``); at the end run.json records the outcome.
Execution stops there: the leaderboard is written by the caller (:func:`harness.workflow.run`).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from harness.contract.results import done_keys, read_results, results_dir, run_record_problem, write_fallback, write_shard
from harness.contract.spec import ExecutionSpec, PipelineSpec, RunSpec, expand_grid, grid_axes
from harness.core.credentials import Operator, check_file_options, with_operator_settings
from harness.core.errors import EXIT_OK, EXIT_ROWS_FAILED, EditbenchError, InfrastructureError
from harness.core.imageio import MAX_PIXELS_ENV, max_pixels
from harness.core.provenance import git_sha, hardware, package_versions
from harness.core.storage import LEASE_S, Location, LockLost, RunLock, check_out, infrastructure_error, is_uri, probe_writable
from harness.execution.dispatch import Dispatcher, Limits
from harness.execution.dispatch import raise_if_infrastructure as _raise_if_infrastructure  # noqa: F401 - tests use it
from harness.execution.ray_actors import RayActors
from harness.execution.ray_connect import (
    CONNECT_TIMEOUT_S,
    LOCAL_START_TIMEOUT_S,
    call_with_timeout,
    check_address,
    connect_hint,
    is_loopback,
    say,
)
from harness.execution.ray_local import loopback_only, start_ray_watchdog
from harness.execution.worker import Job, one_line
from harness.masks import is_sam_recipe
from harness.overrides import Coverage, check_overrides, check_sweep, schedule
from harness.pipelines.base import get_pipeline_class
from harness.preflight import check_weights
from scorers.base import get_scorer_class
from scorers.columns import choose_primary, is_stage_column, metrics_record, primary_metric
from tasks.loading import load_suite
from tasks.schema import Suite, resolve_task
from tasks.validate import check_suite

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    metrics: dict[str, dict] = field(default_factory=dict)  # run.json metrics record (scorers.columns)
    coverage: Coverage | None = None                        # tasks each pipeline runs / skips
    goal: dict = field(default_factory=dict)                # run.json goal: {name, primary, why, companions}

    @property
    def skipped(self) -> dict[str, int]:
        """pipeline key -> tasks of kinds it cannot run (only pipelines that skip some)."""
        return {k: len(v) for k, v in self.coverage.skips.items() if v} if self.coverage else {}


def build_manifest(spec: RunSpec, *, weights: bool = True, operator: Operator = Operator(),
                   spec_file: str | Path | None = None) -> Manifest:
    """Validate everything a run needs before any work starts; raises EditbenchError. ``weights=False`` skips
    the weights check (``suite validate --no-weights`` on a machine without them).

    Options read from a file (the suite's pipelines; with ``spec_file``, the run spec file's pipelines,
    grid and scorer options) may not choose a credential or an endpoint unless ``operator`` allows that
    file (:mod:`harness.core.credentials`); the operator's own settings are then laid over them."""
    suite = load_suite(spec.suite)
    check_suite(suite)                    # every missing/unreadable file, bad mask, ... -> one EditbenchError
    pipelines = spec.pipelines if spec.pipelines is not None else suite.pipelines
    pipelines = _operator_pipelines(pipelines, spec, operator=operator,
                                    source=suite.source_path if spec.pipelines is None else spec_file,
                                    spec_file=spec_file)
    seeds = spec.seeds if spec.seeds is not None else suite.seeds
    scorers = spec.scorers if spec.scorers is not None else suite.scorers
    if not pipelines:
        raise EditbenchError(f"suite {suite.name} names no default pipelines; pass --pipelines.")
    if not seeds:
        raise EditbenchError("no seeds to run; pass --seeds, e.g. --seeds 0,1.")
    check_seeds(seeds)
    for what, values in (("seeds", list(seeds)), ("scorers", list(scorers))):
        repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
        if repeated:
            raise EditbenchError(f"{what} {values} repeat {repeated}; each may be given once (a repeated seed would "
                                 "write two rows of one key).")
    keys = [p.key for p in pipelines]
    if len(set(keys)) != len(keys):
        raise EditbenchError(f"pipelines {keys} repeat a name; give repeated pipelines distinct labels.")
    stray = sorted(set(spec.scorer_options) - set(scorers))
    if stray:
        raise EditbenchError(f"scorer_options name scorers {stray} that the run does not use (it uses {scorers}).")
    # the suite's scorer options (e.g. identity's backend), then the run spec's on top, option by option;
    # those read from a file may not choose an endpoint or a key (harness.core.credentials), then the
    # operator's settings are laid over them
    scorer_options = {}
    for s in scorers:
        cls = get_scorer_class(s)         # unknown name
        for given, source in ((suite.scorer_options.get(s), suite.source_path), (spec.scorer_options.get(s), spec_file)):
            if given and source is not None:
                check_file_options(given, model=cls.Options, source=source, what=f"scorer {s}", operator=operator)
        merged = with_operator_settings({**suite.scorer_options.get(s, {}), **spec.scorer_options.get(s, {})},
                                        names=[s], settings=operator.scorers)
        if merged:
            scorer_options[s] = merged
    # bad options as they come; every missing weight at once, grouped by model
    configs = check_weights(pipelines, scorers, scorer_options, weights=weights)
    instances = [get_scorer_class(s)(**scorer_options.get(s, {})) for s in scorers]
    pins = {s: inst.pins() for s, inst in zip(scorers, instances)}   # a judge's model and protocol version,
                                                                      # recorded with its metrics
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
    choice = choose_primary(metrics, tasks, spec.primary or suite.primary)   # scorers.goals: the goal or nothing
    primary = choice.metric
    if primary is not None and primary not in metrics:
        raise EditbenchError(f"primary metric {primary!r} is not a column of this run; its scorers {scorers} "
                             f"give {sorted(metrics)}.")
    metrics = metrics_record(scorers, primary=primary)
    for m in metrics.values():
        if pins.get(m["scorer"]):
            m["pins"] = pins[m["scorer"]]
    for inst in instances:                       # backend, model file, sha256 of scorers that have them
        for col, extra in inst.describe().items():
            metrics[col].update(extra)
    return Manifest(suite=suite, suite_hash=suite.content_hash(), pipelines=list(pipelines), seeds=list(seeds),
                    scorers=list(scorers), jobs=jobs, pipeline_configs=configs, scorer_options=scorer_options,
                    sweep=sweep, metrics=metrics, coverage=coverage, goal=choice.to_json())


def validate_for_run(suite: str, *, pipelines: list[str] | None = None, weights: bool = True) -> str:
    """``editbench suite validate``: the checks ``run`` makes before any work (files, masks, overrides against
    the suite's pipelines or ``pipelines``, task kinds each pipeline runs, sweep axes, scorers, weights);
    raises EditbenchError listing the problems, else returns the report."""
    s = load_suite(suite)
    if pipelines is None and not s.pipelines:
        check_suite(s)
        return (f"{s.name} v{s.version}: {len(s.tasks)} tasks, no problems (the suite names no pipelines: overrides "
                f"not checked; pass --pipelines); hash {s.content_hash()}")
    m = build_manifest(RunSpec(suite=suite, pipelines=pipelines), weights=weights)
    lines = [f"{note}." for note in (m.coverage.notes() if m.coverage else [])]
    lines.append(f"{s.name} v{s.version}: {len(s.tasks)} tasks, no problems for pipelines "
                 f"{', '.join(p.key for p in m.pipelines)} and scorers {', '.join(m.scorers)}"
                 f"{'' if weights else ' (weights not checked)'}; hash {m.suite_hash}")
    return "\n".join(lines)


def _operator_pipelines(pipelines: list[PipelineSpec], spec: RunSpec, *, operator: Operator,
                        source: str | Path | None, spec_file: str | Path | None) -> list[PipelineSpec]:
    """The run's pipelines, grid expanded, after the credential rule: options from the file ``source``
    (and grid options from ``spec_file``) checked, then the operator's settings laid over them."""
    for p in pipelines:
        if source is not None:
            check_file_options(p.options, model=get_pipeline_class(p.name).Options, source=source,
                               what=f"pipeline {p.key}", operator=operator)
        if spec_file is not None and spec.grid:
            check_file_options({a: None for a in grid_axes(spec.grid)}, model=get_pipeline_class(p.name).Options,
                               source=spec_file, what=f"the grid of pipeline {p.key}", operator=operator)
    expanded = expand_grid(pipelines, spec.grid)
    return [p.model_copy(update={"options": with_operator_settings(p.options, names=[p.key, p.name],
                                                                   settings=operator.pipelines)})
            for p in expanded]


Out = Path | str     # a run directory (Path), or an object-store URI (str, e.g. "s3://bucket/run")


def as_out(out: str | Path) -> Out:
    """``out`` as a run location: a URI stays a string (a Path would fold its '//'), anything else a Path;
    an empty, malformed or unknown-scheme location is one sentence (:func:`harness.core.storage.check_out`)."""
    check_out(out)
    return str(out).rstrip("/") if is_uri(out) else Path(out)


def prepare_out_dir(out: Out, *, lease_s: float = LEASE_S) -> RunLock:
    """Create ``out`` (a directory or an object-store location), check it is writable, and take its run
    lock (one writer per run).

    The caller releases the returned lock; a second writer is refused with a sentence naming the holder.
    """
    loc = Location(out)
    if not loc.remote:
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise EditbenchError(f"output directory {out} is not writable: it cannot be created ({e.strerror or e}).") from None
    probe_writable(loc)           # once, with a short time limit (an offline object store answers in seconds)
    return RunLock(loc, command="editbench run", lease_s=lease_s).acquire()



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
    before = planned_keys(old)
    dropped = before - {j.key for j in manifest.jobs}
    if dropped:
        raise EditbenchError(f"--resume would plan {len(before) - len(dropped)} of the run's {len(before)} jobs "
                             f"(e.g. {sorted(dropped)[0]} is no longer planned, as with --limit); resume with the "
                             "run's whole plan, so that its status says what it holds.")


def planned_keys(meta: dict) -> set[tuple[str, str, int]]:
    """run.json ``jobs.planned`` as keys; a field of the wrong shape is one sentence naming it."""
    jobs = meta.get("jobs", {})
    planned = jobs.get("planned", []) if isinstance(jobs, dict) else None
    if not isinstance(planned, list) or not all(isinstance(k, list) and len(k) == 3 for k in planned):
        raise EditbenchError("run.json field jobs.planned must be a list of [task_id, pipeline, seed]; it is not a "
                             "usable run to resume.")
    try:
        return {(str(t), str(p), int(s)) for t, p, s in planned}
    except (TypeError, ValueError):
        raise EditbenchError("run.json field jobs.planned holds a seed that is not an integer; it is not a usable "
                             "run to resume.") from None


def _read_meta(out: Out) -> dict:
    loc = Location(out)
    if not loc.exists("run.json"):
        return {}
    try:
        meta = json.loads(loc.read_bytes("run.json").decode("utf-8"))
    except (ValueError, OSError, RecursionError) as e:
        raise EditbenchError(f"{loc.url('run.json')} cannot be read as JSON ({type(e).__name__}); it is not a "
                             "usable run to resume.") from None
    problem = run_record_problem(meta)
    if problem:
        raise EditbenchError(f"{loc.url('run.json')} {problem}; it is not a usable run to resume.")
    return meta


def saved_spec(out: str | Path) -> dict:
    """The run spec recorded in ``out``'s run.json (what ``run --resume --out DIR`` alone reruns), as the
    keyword arguments of a RunSpec: its suite as recorded, or the suite file it was read from when that
    name no longer resolves from here; execution settings other than the Ray address and time limits are
    kept too."""
    out = as_out(out)
    meta = _read_meta(out)
    spec = dict(meta.get("spec") or {})
    if not spec.get("suite"):
        raise EditbenchError(f"{Location(out).url('run.json')} does not exist or records no run spec; give --suite "
                             "NAME (or a run spec file) with --resume.")
    source = (meta.get("suite") or {}).get("source")
    if source and not _suite_resolves(spec["suite"]) and Path(source).is_file():
        spec["suite"] = source
    ex = dict(spec.pop("execution", None) or {})
    ex.pop("resume", None), ex.pop("extend", None), ex.pop("out", None)
    return {**spec, "execution": ex}


def _suite_resolves(name: str) -> bool:
    try:
        load_suite(name)
        return True
    except EditbenchError:
        return False


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_meta(out: Out, meta: dict) -> None:
    """Write run.json whole (a temporary file and a rename locally, one PUT on an object store)."""
    Location(out).write_bytes(json.dumps(meta, indent=2, sort_keys=False, default=str).encode("utf-8"), "run.json")


def _run_metadata(m: Manifest, out: Out, spec: RunSpec) -> dict:
    path = f"{out}/run.json"
    meta = _read_meta(out)
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
        "goal": m.goal,
        "metrics": {**_rescored_metrics(meta, m.metrics), **m.metrics},
        "name": spec.name or meta.get("name"),
        "tags": {**(meta.get("tags") or {}), **spec.tags},
        "spec": spec.model_dump(mode="json"),
        "packages": package_versions(),
        "git_sha": git_sha(),
        "hardware": hardware(),
    })
    meta.setdefault("start_time", _now())
    meta.setdefault("attempts", [])
    return meta


def _rescored_metrics(meta: dict, now: dict) -> dict:
    """run.json metric entries of scorers ``editbench rescore`` added (harness.execution.rescore), kept by a resume
    whose own scorers do not include them (its primary wins)."""
    rescored = set(meta.get("rescores") or {})
    return {c: {**r, "primary": False} for c, r in (meta.get("metrics") or {}).items()
            if isinstance(r, dict) and r.get("scorer") in rescored and c not in now}


def init_ray(address: str | None, *, connect_timeout_s: float | None = None):
    """Join ``address`` (or $RAY_ADDRESS) if given, else start a local Ray: no dashboard, loopback only.

    Ray 2.60 binds its GCS, raylet, workers and agents to the node address, which it replaces by the
    machine's routable address even when ``_node_ip_address="127.0.0.1"`` is given, unless
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is in the environment when ``ray`` is imported (Ray reads it
    into ``ray_constants`` then); :func:`harness.execution.ray_local.loopback_only` sets it for a local Ray only
    (a driver joining a remote cluster must advertise a routable address). A watchdog process kills the
    local Ray's processes when the driver dies without shutting it down (e.g. SIGKILL by the OOM killer)."""
    address = address or os.environ.get("RAY_ADDRESS")
    if address == "local":
        address = None
    if address and address != "auto":
        check_address(address)          # a wrong port or a silent host: one sentence within seconds
    if not address or address != "auto" and is_loopback(address):
        loopback_only()  # before `import ray` where possible (see harness.execution.ray_local and ray_connect)
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
        timeout = connect_timeout_s or CONNECT_TIMEOUT_S
        say(f"connecting to Ray at {address} (up to {timeout:g} s) ...")
        try:
            call_with_timeout(lambda: ray.init(address=address, runtime_env={"env_vars": env}, **kwargs),
                              timeout_s=timeout, what=f"connecting to Ray at {address}",
                              hint=connect_hint(address, ray.__version__))
        except (ConnectionError, RuntimeError) as e:   # Ray gave up itself (e.g. a token it was refused)
            raise EditbenchError(f"could not connect to Ray at {address} ({one_line(e)}); "
                                 f"{connect_hint(address, ray.__version__)}") from None
    else:  # "local": never join a cluster some other process on this machine started
        timeout = connect_timeout_s or LOCAL_START_TIMEOUT_S
        say(f"starting a private local Ray ({os.cpu_count()} CPUs, loopback only; up to {timeout:g} s) ...")
        start_ray_watchdog()   # first: it also cleans up after a start that timed out or was interrupted
        call_with_timeout(lambda: ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=os.cpu_count(),
                                           **kwargs),
                          timeout_s=timeout, what="starting a local Ray",
                          hint="see /tmp/ray/session_latest/logs for why (a full /tmp, or too little memory).")
    say(f"Ray ready: {_resources_line(ray.cluster_resources())}")
    return ray, True


def _resources_line(res: dict) -> str:
    keys = [k for k in ("CPU", "GPU") if res.get(k)]
    return ", ".join(f"{res[k]:g} {k}s" for k in keys) or "no CPUs or GPUs"


@dataclass
class ActorPlan:
    """How many actors each pipeline gets and what each reserves."""

    actors: dict[str, int]          # pipeline key -> number of actors
    num_gpus: dict[str, float]      # pipeline key -> GPUs per actor
    num_cpus: float                 # CPUs reserved per pipeline actor
    scoring: str                    # "inline" | "pool"


def plan_actors(ex: ExecutionSpec, pipelines: list[PipelineSpec], resources: dict) -> ActorPlan:
    """Size actor pools to the cluster: one actor per GPU for GPU pipelines, CPU slots otherwise."""
    gpus, cpus = float(resources.get("GPU", 0.0)), float(resources.get("CPU", 1.0))
    gpu_pipes = [p.key for p in pipelines if gpus >= 1e-9 and get_pipeline_class(p.name).uses_gpu]
    num_gpus, actors = {}, {}
    for p in pipelines:
        on_gpu = p.key in gpu_pipes
        if ex.num_gpus_per_actor is not None:
            g = ex.num_gpus_per_actor if on_gpu or ex.num_gpus_per_actor > 0 else 0.0
        else:
            g = min(1.0, gpus / len(gpu_pipes)) if on_gpu else 0.0
        num_gpus[p.key] = g
        if ex.actors_per_pipeline is not None:
            actors[p.key] = ex.actors_per_pipeline
        elif get_pipeline_class(p.name).concurrent:
            actors[p.key] = 1          # one actor runs its requests concurrently (PipelineSpec.concurrency)
        elif g > 0:
            actors[p.key] = max(1, int(gpus // (g * len(gpu_pipes))))
        else:
            actors[p.key] = max(1, int(cpus // len(pipelines)))
    total = sum(actors.values())
    scoring = ex.scoring if ex.scoring != "auto" else ("pool" if gpu_pipes else "inline")
    reserved = ex.scorer_actors if scoring == "pool" else 0
    # One CPU per actor while they fit; with more actors than CPUs they time-share instead (a fractional
    # reservation could still fail to pack onto nodes of one CPU each).
    num_cpus = 1.0 if total + reserved <= cpus else 0.0
    return ActorPlan(actors=actors, num_gpus=num_gpus, num_cpus=num_cpus, scoring=scoring)


def in_flight(ex: ExecutionSpec, p: PipelineSpec) -> tuple[int, bool]:
    """(jobs one actor of ``p`` holds, whether it runs them at once): ``p.concurrency``, else the
    pipeline's default (hosted: 8, concurrent), else the run's ``queue_depth`` (one running)."""
    cls = get_pipeline_class(p.name)
    return p.concurrency or cls.default_concurrency or ex.queue_depth, cls.concurrent


class _Writer:
    """Buffers finished rows and flushes them to Parquet shards (every N rows or T seconds).

    A shard that cannot be written for a reason other than the storage (a column pyarrow cannot convert)
    goes to a JSON-lines fallback file that readers and ``--resume`` read too, so no computed row is lost.
    A storage failure (disk full, permission, I/O) raises InfrastructureError; the buffered rows are
    then recomputed by ``--resume``.
    """

    def __init__(self, out: Out, every: int, seconds: float, fence=None):
        self.out, self.every, self.seconds = out, every, seconds
        self.fence = fence           # called before every shard write: raises once the run lock is lost
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
            if self.fence is not None:
                self.fence()
            try:
                path = write_shard(self.out, self.buf)
            except Exception as e:  # noqa: BLE001 - classified below; the rows must reach the disk somehow
                infra = infrastructure_error(e, results_dir(self.out))
                if infra is not None:
                    raise infra from None
                path = write_fallback(self.out, self.buf)
                self.fallback += len(self.buf)
                print(f"editbench: warning: a Parquet shard could not be written ({one_line(e)}); its "
                      f"{len(self.buf)} rows went to {path}", file=sys.stderr)
            if self.fence is not None:
                try:            # stopped during the write past the lease: it may have landed after a takeover
                    self.fence()
                except LockLost:
                    Location(self.out).delete("results", Path(str(path)).name)   # ours alone (a fresh name)
                    raise
            self.written += len(self.buf)
            self.buf = []
        self.last = time.monotonic()


def _storage_error(path: Path, e: OSError) -> InfrastructureError:
    return InfrastructureError(f"could not write {path}: {e.strerror or e}; the rows written before are kept — fix "
                               "the storage and finish the run with --resume.")


def run(spec: RunSpec, *, out: str | Path, progress: bool = True, operator: Operator = Operator(),
        spec_file: str | Path | None = None) -> Out:
    """Execute a run spec into ``out``; returns the output location.

    Rows stream to disk as they finish; an interrupted run keeps every flushed row and is completed
    with ``resume=True``. The run holds ``out``'s lock throughout (one writer per run directory).
    run.json records the planned job keys and, at the end, the status computed from the keys on disk.
    Reports are not written here: :func:`harness.workflow.run` runs and then reports. ``operator`` and ``spec_file`` (the run spec
    file ``spec`` was read from) are for the credential rule, see :func:`build_manifest`.
    """
    out = as_out(out)
    with _image_limit(spec.max_pixels):
        manifest = build_manifest(spec, operator=operator, spec_file=spec_file)   # 1. all validated before any work
        _check_mask_stage_storage(manifest, out)
        address = spec.execution.address or os.environ.get("RAY_ADDRESS")
        if address and address not in ("local", "auto"):
            check_address(address)                        # a wrong --address: one sentence, nothing written
        lock = prepare_out_dir(out, lease_s=spec.execution.lock_lease_s)   # 2. the output location, locked
        try:
            attempt = begin_attempt(spec, manifest, out)  # 3. run.json: planned jobs, status "running"
            execute(spec, manifest, out, attempt, progress=progress, lock=lock)   # 4. dispatch, then the outcome
        finally:
            lock.release()
    return out


def _check_mask_stage_storage(manifest: Manifest, out) -> None:
    """The SAM mask stage caches each task's mask under a file lock in the run directory, which needs a
    local or shared file system: refused before any work for an object-store ``--out``."""
    sam = sorted({j.task.task_id for j in manifest.jobs if is_sam_recipe(j.task.mask)})
    if sam and is_uri(str(out)):
        raise EditbenchError(f"tasks {sam[:3]} take their mask from SAM, whose mask stage needs --out on a local or "
                             f"shared file system; {out} is an object store (run it to a local folder).")


@contextmanager
def _image_limit(max_pixels_: int | None):
    """Set the input image limit for validation and for the actors of a Ray started here; restore it after."""
    before = os.environ.get(MAX_PIXELS_ENV)
    if max_pixels_ is not None:
        os.environ[MAX_PIXELS_ENV] = str(max_pixels_)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(MAX_PIXELS_ENV, None)
        else:
            os.environ[MAX_PIXELS_ENV] = before


@dataclass
class Attempt:
    """One execution of a run (the first, or a resume): the jobs left to do and the run.json being written."""

    todo: list[Job]
    planned: set[tuple[str, str, int]]
    meta: dict                       # run.json
    record: dict                     # this attempt's entry of meta["attempts"]


def begin_attempt(spec: RunSpec, manifest: Manifest, out: Out) -> Attempt:
    """Check ``out`` against the spec (results there need ``resume``; a resume must match the run), work
    out the jobs left, and write run.json with status ``running``."""
    ex = spec.execution
    done = done_keys(out)
    if done and not ex.resume:
        raise EditbenchError(f"output directory {out} already holds {len(done)} result rows; pass --resume to "
                             "complete that run or choose another --out.")
    old = _read_meta(out)
    if ex.resume:
        check_resume(old, manifest, extend=ex.extend)
    planned = {j.key for j in manifest.jobs}
    todo = [j for j in manifest.jobs if j.key not in done]
    meta = _run_metadata(manifest, out, spec)
    if ex.resume and ex.extend and old:
        planned |= planned_keys(old)
        meta["seeds"] = sorted(set(old.get("seeds") or []) | set(manifest.seeds))
        meta["scorers"] = list(dict.fromkeys([*(old.get("scorers") or []), *manifest.scorers]))
        labels = {c.get("label") for c in meta["pipelines"]}
        meta["pipelines"] = [c for c in old.get("pipelines") or [] if c.get("label") not in labels] + meta["pipelines"]
    attempt = {"started": _now(), "pid": os.getpid(), "host": socket.gethostname(), "extend": ex.extend,
               "jobs_total": len(manifest.jobs), "jobs_skipped": len(manifest.jobs) - len(todo),
               "unsupported_tasks": manifest.skipped}
    meta["attempts"].append(attempt)
    meta["jobs"] = {"planned": sorted(planned)}
    meta["status"] = "running"
    _write_meta(out, meta)
    return Attempt(todo=todo, planned=planned, meta=meta, record=attempt)


def execute(spec: RunSpec, manifest: Manifest, out: Out, run: Attempt, *, progress: bool,
            lock: RunLock | None = None) -> None:
    """Dispatch ``run.todo``, streaming rows to shards; whatever happens, flush the rows and write run.json
    with the outcome computed from the keys on disk (``complete`` / ``incomplete``). With ``lock``, every
    shard and run.json write first checks it is still held (fencing: a driver that lost it writes nothing)."""
    for note in manifest.coverage.notes() if manifest.coverage else []:
        print(f"editbench: {note}.", file=sys.stderr)
    attempt, meta, todo, ex = run.record, run.meta, run.todo, spec.execution
    counts = {"ok": 0, "error": 0, "timeout": 0}
    writer = _Writer(out, ex.flush_every, ex.flush_seconds, fence=lock.check if lock is not None else None)
    t0 = time.monotonic()
    try:
        if todo:
            attempt.update(_dispatch(todo, manifest, spec, out, meta["run_id"], writer, counts, progress))
    except InfrastructureError as e:
        attempt["infrastructure_error"] = str(e)
        raise
    except OSError as e:  # a write of the driver into <out> (shard, run.json) failed
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
        missing = run.planned - done_keys(out)
        meta["jobs"].update(done=len(run.planned) - len(missing), missing=sorted(missing)[:1000])
        meta["end_time"] = _now()
        meta["status"] = "complete" if not missing else "incomplete"
        _record_resolved(out, meta)
        try:
            if lock is not None:
                lock.check()
            _write_meta(out, meta)
        except InfrastructureError as e:
            attempt.setdefault("infrastructure_error", str(e))
        _summary_line(len(todo), time.monotonic() - t0, counts, attempt)   # also when interrupted
    if "infrastructure_error" in attempt:  # the last shard or run.json could not be written
        raise InfrastructureError(attempt["infrastructure_error"])


def _summary_line(n_todo: int, secs: float, counts: dict, attempt: dict) -> None:
    """The line every attempt ends with (with and without --no-progress, also after Ctrl-C)."""
    done = sum(counts.values())
    head = f"{n_todo} jobs" if done == n_todo else f"{done} of {n_todo} jobs"
    print(f"editbench: {head} in {secs:.1f} s ({done / max(secs, 1e-9):.2f} jobs/s): "
          f"{counts['ok']} ok, {counts['error']} error, {counts['timeout']} timeout; "
          f"{attempt['jobs_skipped']} already on disk", file=sys.stderr)


def interruption_note(out: str | Path, *, resume_command: str) -> str:
    """What a Ctrl-C left behind: the rows kept in ``out`` and the command that finishes the run."""
    out = as_out(out)
    try:
        meta, done = _read_meta(out), done_keys(out)
    except Exception:  # noqa: BLE001 - nothing usable was written (interrupted before run.json)
        meta, done = {}, set()
    if not meta:
        return f"interrupted before any work; nothing was written to {out}."
    planned = len(meta.get("jobs", {}).get("planned") or [])
    return (f"interrupted; {len(done)} of {planned} rows are kept in {out}/results/; finish the run with: "
            f"{resume_command}")


def _record_resolved(out: Out, meta: dict) -> None:
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
    """Exit code of a finished run (harness.core.errors): EXIT_OK when every row on disk is ok, else
    EXIT_ROWS_FAILED (the rows are kept; ``--resume`` does not redo them)."""
    df = read_results(out)
    return EXIT_ROWS_FAILED if len(df) and (df["status"] != "ok").any() else EXIT_OK


def _dispatch(todo: list[Job], manifest: Manifest, spec: RunSpec, out: Out, run_id: str, writer: "_Writer",
              counts: dict, progress: bool) -> dict:
    """Fan ``todo`` out to Ray actors (:class:`harness.execution.dispatch.Dispatcher` over :class:`RayActors`);
    returns timing figures for run.json."""
    from tqdm import tqdm

    ex = spec.execution
    ray, started_here = init_ray(ex.address, connect_timeout_s=ex.connect_timeout_s)
    plan = plan_actors(ex, manifest.pipelines, ray.cluster_resources())
    depth = {p.key: in_flight(ex, p) for p in manifest.pipelines}
    layer = RayActors(ray, plan=plan, depth=depth, scorers=manifest.scorers, scorer_options=manifest.scorer_options,
                      out=str(out) if is_uri(out) else str(Path(out).resolve()), run_id=run_id, suite=manifest.suite.name,
                      prefetch=ex.prefetch,
                      num_gpus_per_scorer=ex.num_gpus_per_scorer)
    bar = tqdm(total=len(todo), desc=f"editbench {manifest.suite.name}", unit="job", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)

    def record(rec: dict) -> None:
        writer.add(rec)
        counts[rec["status"]] += 1
        bar.update(1)
        bar.set_postfix(errors=counts["error"], timeouts=counts["timeout"], refresh=False)

    limits = Limits(pool=plan.scoring == "pool", scorer_actors=ex.scorer_actors, score_batch=ex.score_batch,
                    max_retries=ex.max_retries, task_timeout_s=ex.task_timeout_s, load_timeout_s=ex.load_limit_s,
                    prefetch=ex.prefetch)
    pool = Dispatcher(layer, todo, pipelines=manifest.pipelines, actors=plan.actors, depth=depth, limits=limits,
                      record=record, run_id=run_id, suite=manifest.suite.name)
    timing = {"actors": {k: v for k, v in plan.actors.items() if pool.queues.get(k)}, "scoring": plan.scoring,
              "num_gpus_per_actor": plan.num_gpus}
    try:
        pool.run()
    finally:
        bar.close()
        pool.close()
        layer.close()
        if started_here:
            ray.shutdown()
    end = time.monotonic()
    t_start = pool.loaded_at or end   # dispatch time excludes actor start-up and loading
    timing.update(dispatch_s=round(end - t_start, 4),
                  first_row_s=round((pool.first_row or end) - t_start, 4), jobs=len(todo))
    return timing
