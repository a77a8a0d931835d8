"""The dispatcher: jobs to pipeline actors, generated outputs to scorer actors, rows back to the writer.

:class:`Dispatcher` has the shape of Ray's ``ray.util.ActorPool``: named state (one :class:`Slot` per
pipeline actor, the queues of jobs per pipeline, the refs in flight) and one small method per concern:

- :meth:`Dispatcher.submit` fills an actor up to its depth and prefetches the next job's inputs;
- :meth:`Dispatcher.on_generated` takes a finished generation (a row, or an output to score);
- :meth:`Dispatcher.restart` replaces a dead or hung actor and decides what happens to its jobs;
- :meth:`Dispatcher.send_batch` / :meth:`Dispatcher.on_scored` run the scorer pool (adaptive batches);
- :meth:`Dispatcher.check_timeouts` / :meth:`Dispatcher.check_loads` enforce the time limits.

Everything the dispatcher asks of Ray goes through an :class:`ActorLayer` (:class:`harness.execution.ray_actors.RayActors`
in a run), so the retry / timeout / culprit policy runs and is tested with a fake layer, without Ray.

Policy:
- a job over ``task_timeout_s`` becomes a ``timeout`` row, timed from the start its actor reported to the
  run's start board (model loading and queueing never count; a concurrent actor's jobs all run, so their
  clock runs from submission); the actor is replaced and the other jobs it held go back to the queue;
- when an actor dies, the job the start board names as its last start is the culprit (Ray can lose the
  reply of a job that finished just before the death); it is retried up to ``max_retries`` times, then
  recorded as an ``error`` row; the other jobs go back unchanged;
- a (replacement) actor must load its pipeline within ``load_timeout_s``; one that does not is replaced
  again and the first job it held becomes an ``error`` row; at the start, actors that do not all load in
  time stop the run with an EditbenchError;
- when a scorer actor fails, the generated rows are kept with NaN metrics and ``score_error`` (a dead
  scorer is replaced); a storage failure of any actor (:class:`harness.core.errors.InfrastructureError`, or an
  OSError such as ENOSPC) stops the run.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Protocol

from harness.contract.spec import PipelineSpec
from harness.core.errors import EditbenchError, InfrastructureError
from harness.core.storage import infrastructure_error
from harness.execution.worker import Job, new_row, one_line

Ref = Hashable          # an object ref (Ray's ObjectRef, or a fake layer's token)
Key = tuple[str, str, int]


class ActorDied(Exception):
    """The actor behind a ref died (Ray: ``RayActorError``); ``cause`` is the layer's own exception, so a
    row's message (:func:`harness.execution.worker.one_line`) reads the same as the original."""

    def __init__(self, cause: BaseException | None = None):
        super().__init__(str(cause) if cause is not None else "the actor died")
        self.cause = cause


class ActorLayer(Protocol):
    """What the dispatcher needs from an actor system (Ray in a run, a simulation in tests).

    ``get`` raises :class:`ActorDied` when the actor behind the ref died, and any other exception as
    the actor raised it. ``snapshot`` is the start board's: token -> (key of the job that actor
    incarnation started last, seconds since that start).
    """

    def start_pipeline(self, pipeline: PipelineSpec, token: str) -> Any: ...
    def ping(self, actor: Any) -> Ref: ...
    def generate(self, actor: Any, job: Job, inputs: Ref | None) -> tuple[Ref, Ref | None]: ...
    def load_inputs(self, job: Job) -> Ref | None: ...
    def start_scorer(self) -> Any: ...
    def score(self, scorer: Any, jobs: list[Job], rows: list, outputs: list[Ref]) -> Ref: ...
    def wait(self, refs: list[Ref], *, num_returns: int, timeout: float | None) -> list[Ref]: ...
    def get(self, ref: Ref) -> Any: ...
    def kill(self, actor: Any) -> None: ...
    def snapshot(self) -> dict[str, tuple[Key, float]]: ...
    def forget(self, token: str) -> None: ...
    def describe(self) -> str: ...


@dataclass(frozen=True)
class Limits:
    """Per-run dispatch settings (from :class:`harness.contract.spec.RunSpec`)."""

    pool: bool = False                      # scorer actors (True) or inline scoring in the pipeline actor
    scorer_actors: int = 1
    score_batch: int = 8
    max_retries: int = 1
    task_timeout_s: float | None = None
    load_timeout_s: float = 600.0
    prefetch: bool = True
    poll_s: float = 0.2                     # longest wait for a ref before the time limits are checked


class Slot:
    """One pipeline actor and the jobs it holds, oldest first (= running, unless ``concurrent``: then all
    of them run and may finish in any order). Each actor incarnation has a ``token`` under which it
    reports the start of every job to the start board; ``ping`` is its load call."""

    def __init__(self, pipeline: PipelineSpec, *, depth: int, concurrent: bool):
        self.pipeline = pipeline
        self.depth, self.concurrent = depth, concurrent
        self.queue: deque[tuple[Ref, Job]] = deque()
        self.submitted: dict[Ref, float] = {}   # row ref -> submission time (a concurrent job's start)
        self.token = ""
        self.actor = self.ping = None
        self.created = 0.0
        self.loaded = False

    def start(self, layer: ActorLayer, now: float) -> None:
        self.token = uuid.uuid4().hex
        self.actor = layer.start_pipeline(self.pipeline, self.token)
        self.ping = layer.ping(self.actor)
        self.created, self.loaded = now, False

    def pop(self, ref: Ref) -> Job:
        """Remove and return the job of ``ref``."""
        i = next(i for i, (r, _) in enumerate(self.queue) if r == ref)
        job = self.queue[i][1]
        del self.queue[i]
        self.submitted.pop(ref, None)
        return job

    def waiting(self) -> list[Ref]:
        """Refs that can finish next: the running job, or every held job of a concurrent actor."""
        return [r for r, _ in self.queue] if self.concurrent else [r for r, _ in list(self.queue)[:1]]

    def running(self, snapshot: dict) -> tuple[Key, float] | None:
        """(key, seconds since its start) of the job this incarnation started last, if any."""
        return snapshot.get(self.token)

    def replace(self, layer: ActorLayer, now: float) -> list[Job]:
        """Kill the actor, start a fresh one, and hand back the jobs it still held."""
        layer.kill(self.actor)
        layer.forget(self.token)
        jobs = [job for _, job in self.queue]
        self.queue.clear()
        self.submitted.clear()
        self.start(layer, now)
        return jobs


def raise_if_infrastructure(e: BaseException) -> None:
    """Raise InfrastructureError when an actor failed on storage: an InfrastructureError or an OSError
    such as ENOSPC, possibly wrapped (Ray: the ``cause`` of a RayTaskError)."""
    for err in (e, getattr(e, "cause", None)):
        infra = infrastructure_error(err) if isinstance(err, BaseException) else None
        if infra is not None:
            raise InfrastructureError(str(infra)) from None


class Dispatcher:
    """Runs ``jobs`` on pipeline actors (``actors[key]`` per pipeline, each holding ``depth[key]`` jobs,
    concurrently when ``concurrent[key]``) and hands every finished row record to ``record``."""

    def __init__(self, layer: ActorLayer, jobs: list[Job], *, pipelines: list[PipelineSpec],
                 actors: dict[str, int], depth: dict[str, tuple[int, bool]], limits: Limits,
                 record: Callable[[dict], None], run_id: str, suite: str,
                 clock: Callable[[], float] = time.monotonic):
        self.layer, self.limits, self.clock = layer, limits, clock
        self._record, self.run_id, self.suite = record, run_id, suite
        self.queues = {p.key: deque(j for j in jobs if j.pipeline.key == p.key) for p in pipelines}
        self.slots = [Slot(p, depth=depth[p.key][0], concurrent=depth[p.key][1])
                      for p in pipelines if self.queues[p.key] for _ in range(actors[p.key])]
        self.scorers: list = []
        self.gen: dict[Ref, tuple[Slot, Ref | None]] = {}          # row ref -> (its slot, output ref)
        self.scoring: dict[Ref, tuple[list, int]] = {}             # ref -> (batch of (job, row, out ref), scorer)
        self.to_score: list[tuple[Job, Any, Ref]] = []             # generated ok rows waiting for a scorer
        self.prefetching: dict[Key, Ref] = {}                      # job key -> ref of its decoded inputs
        self.next_scorer = 0
        self.first_row: float | None = None
        self.loaded_at: float | None = None                         # when every first actor had loaded

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start every actor and wait until all have loaded (within the load timeout)."""
        now = self.clock()
        for s in self.slots:
            s.start(self.layer, now)
        if self.limits.pool:
            self.scorers = [self.layer.start_scorer() for _ in range(self.limits.scorer_actors)]
        pings = [s.ping for s in self.slots] + [self.layer.ping(s) for s in self.scorers]
        ready = self.layer.wait(pings, num_returns=len(pings), timeout=self.limits.load_timeout_s)
        if len(ready) < len(pings):
            raise EditbenchError(
                f"only {len(ready)} of {len(pings)} actors started and loaded their pipeline within the load "
                f"timeout of {self.limits.load_timeout_s:g} s (load_timeout_s / --load-timeout); "
                f"{self.layer.describe()} (raise the load timeout for slow-loading models, or lower "
                "actors_per_pipeline or num_gpus_per_actor).")
        for s in self.slots:
            s.loaded = True
        self.loaded_at = self.clock()

    def run(self) -> None:
        """Start the actors, then dispatch until every job has its row."""
        self.start()
        for s in self.slots:
            self.submit(s)
        while self.busy:
            self.step()

    @property
    def busy(self) -> bool:
        return bool(self.gen or self.scoring or self.to_score)

    def step(self) -> None:
        """Send what can be scored, take what finished, then enforce the time limits."""
        while self.send_batch():
            pass
        heads = [r for s in self.slots for r in s.waiting()]   # only running jobs can finish first
        for ref in self.layer.wait(heads + list(self.scoring), num_returns=1, timeout=self.limits.poll_s):
            if ref in self.scoring:
                self.on_scored(ref)
            elif ref in self.gen:
                self.on_generated(ref)
        self.check_loads()
        self.check_timeouts()

    def close(self) -> None:
        for s in self.slots:
            if s.actor is not None:
                self.layer.kill(s.actor)
        for s in self.scorers:
            self.layer.kill(s)

    # -- rows ---------------------------------------------------------------------------------------------
    def record(self, rec: dict) -> None:
        self.first_row = self.first_row or self.clock()
        self._record(rec)

    def failed(self, job: Job, status: str, msg: str) -> None:
        self.record(new_row(job, run_id=self.run_id, suite=self.suite, status=status, error=msg).to_record())

    # -- generation ---------------------------------------------------------------------------------------
    def _inputs(self, job: Job) -> Ref | None:
        if not self.limits.prefetch:
            return None
        return self.prefetching.pop(job.key, None) or self.layer.load_inputs(job)

    def submit(self, slot: Slot) -> None:
        """Fill ``slot`` up to its depth from its pipeline's queue; start decoding the next job's inputs."""
        q = self.queues[slot.pipeline.key]
        while q and len(slot.queue) < slot.depth:
            job = q.popleft()
            row_ref, out_ref = self.layer.generate(slot.actor, job, self._inputs(job))
            slot.queue.append((row_ref, job))
            slot.submitted[row_ref] = self.clock()
            self.gen[row_ref] = (slot, out_ref)
        if q and self.limits.prefetch and q[0].key not in self.prefetching:
            ref = self.layer.load_inputs(q[0])   # decoded while the current job runs
            if ref is not None:
                self.prefetching[q[0].key] = ref

    def on_generated(self, ref: Ref) -> None:
        slot, out_ref = self.gen.pop(ref)
        job = slot.pop(ref)
        try:
            result = self.layer.get(ref)
        except ActorDied:
            self.restart(slot, job, None)
            return
        except Exception as e:  # noqa: BLE001 - e.g. a job that could not be deserialised
            raise_if_infrastructure(e)
            self.failed(job, "error", one_line(e)[:500])
        else:
            if not self.limits.pool:
                self.record(result)
            elif result.status != "ok":
                self.record(result.to_record())
            else:
                self.to_score.append((job, result, out_ref))
        self.submit(slot)

    def _drop(self, slot: Slot) -> None:
        for r in [r for r, (s, _) in self.gen.items() if s is slot]:
            del self.gen[r]

    def restart(self, slot: Slot, job: Job, failure: str | None) -> None:
        """Replace a dead or hung actor. ``failure``: record ``job`` as a timeout with this message; None:
        the actor died, so the job the start board names (``job`` if it names none it held) is retried, or
        recorded as an error once its retries are used up; the other jobs it held go back unchanged."""
        self._drop(slot)
        culprit = None
        if failure is None:
            last = slot.running(self.layer.snapshot())
            culprit = last[0] if last else None
        held = [job, *slot.replace(self.layer, self.clock())]
        if failure is not None:
            self.failed(job, "timeout", failure)
            held = held[1:]
        elif culprit is None or culprit not in {j.key for j in held}:
            culprit = job.key
        requeue = []
        for j in held:
            if j.key != culprit:
                requeue.append(j)
            elif j.attempt <= self.limits.max_retries:
                requeue.append(j.retry())
            else:
                self.failed(j, "error", f"the actor process died on each of {j.attempt} attempts at this task")
        self.queues[slot.pipeline.key].extendleft(reversed(requeue))
        self.submit(slot)

    # -- time limits --------------------------------------------------------------------------------------
    def check_loads(self) -> None:
        """A replacement actor must load within the load timeout; one that does not is replaced again and
        the job it held first becomes an error row (the others go back)."""
        now = self.clock()
        for slot in self.slots:
            if slot.loaded:
                continue
            if self.layer.wait([slot.ping], num_returns=1, timeout=0):
                slot.loaded = True
            elif now - slot.created > self.limits.load_timeout_s:
                self._drop(slot)
                held = slot.replace(self.layer, now)
                if held:
                    self.failed(held[0], "error", f"the pipeline did not load within the load timeout of "
                                                  f"{self.limits.load_timeout_s:g} s")
                self.queues[slot.pipeline.key].extendleft(reversed(held[1:]))
                self.submit(slot)

    def check_timeouts(self) -> None:
        """A head job over ``task_timeout_s`` since its start becomes a timeout row (see :meth:`restart`)."""
        limit = self.limits.task_timeout_s
        if not limit:
            return
        snapshot = self.layer.snapshot()
        for slot in self.slots:
            if not slot.queue:
                continue
            ref, job = slot.queue[0]
            if slot.concurrent:   # every held job runs: the head's clock runs from its submission
                started = slot.submitted.get(ref)
                over = started is not None and self.clock() - started > limit
            else:                 # the clock runs from the start the actor reported for its head job
                last = slot.running(snapshot)
                over = bool(last) and last[0] == job.key and last[1] > limit
            if over:
                self.gen.pop(ref, None)
                slot.pop(ref)
                self.restart(slot, job, f"task exceeded its time limit of {limit:g} s")

    # -- scoring ------------------------------------------------------------------------------------------
    def send_batch(self) -> bool:
        """Send one batch to the next scorer actor when it is full or a scorer is idle (adaptive batching:
        batches grow only while the scorers are the bottleneck); False when nothing was sent."""
        n = self.limits.score_batch
        if not self.to_score or not (len(self.to_score) >= n or len(self.scoring) < len(self.scorers)):
            return False
        batch, self.to_score = self.to_score[:n], self.to_score[n:]
        i = self.next_scorer % len(self.scorers)
        self.next_scorer += 1
        ref = self.layer.score(self.scorers[i], [b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch])
        self.scoring[ref] = (batch, i)
        return True

    def on_scored(self, ref: Ref) -> None:
        batch, i = self.scoring.pop(ref)
        try:
            recs = self.layer.get(ref)
        except Exception as e:  # noqa: BLE001 - scorer failed: keep the generated rows, metrics NaN
            raise_if_infrastructure(e)
            if isinstance(e, ActorDied):
                self.layer.kill(self.scorers[i])
                self.scorers[i] = self.layer.start_scorer()
            for _, row, _ in batch:
                row.score_error = f"scoring failed: {one_line(e)}"[:500]
                self.record(row.to_record())
            return
        for rec in recs:
            self.record(rec)
