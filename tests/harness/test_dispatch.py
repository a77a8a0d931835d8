"""The dispatcher's policy (retries, timeouts, culprits, load limits, scorer failures) on a simulated actor
layer: no Ray, a simulated clock that advances only while the dispatcher waits."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from harness.contract.spec import PipelineSpec
from harness.core.errors import EditbenchError, InfrastructureError
from harness.execution.dispatch import ActorDied, Dispatcher, Limits
from harness.execution.worker import Job, new_row
from tasks.schema import Task

INF = math.inf
P = PipelineSpec(name="synthetic")


@dataclass(eq=False)
class FakeRef:
    actor: "FakeActor | None"
    reply_at: float                   # when the reply arrives (inf: never, e.g. lost or hung)
    value: object = None
    error: BaseException | None = None


@dataclass(eq=False)
class FakeActor:
    token: str
    created: float
    loaded_at: float
    concurrent: bool = False
    free_at: float = 0.0              # a serial actor starts its next job then
    dead_at: float = INF
    killed: bool = False
    starts: list = field(default_factory=list)   # (start time, job key)
    jobs: list = field(default_factory=list)     # jobs sent to it, in order


class FakeActors:
    """A simulated actor system. ``behaviour[(task_id, attempt)]`` (or ``[task_id]``) is one of
    ("ok", s), ("fail", s), ("hang",), ("die", s): the actor dies s seconds after starting the job,
    ("lost", s): the job finishes but its reply is lost (it reads as a death when the actor dies);
    a list gives one such entry per time the job is sent."""

    def __init__(self, behaviour=None, *, pool=False, load_s=(0.0,), score_s=0.1, scorer_dies=False, depth=(2, False)):
        self.now = 0.0
        self.behaviour = behaviour or {}
        self.pool, self.load_s, self.score_s, self.scorer_dies = pool, list(load_s), score_s, scorer_dies
        self.depth = depth
        self.actors: list[FakeActor] = []
        self.forgotten: set[str] = set()
        self.prefetched: list = []
        self.scored: list = []
        self.scorers_started = 0

    def clock(self) -> float:
        return self.now

    def _behaviour(self, job: Job):
        b = self.behaviour.get((job.task.task_id, job.attempt), self.behaviour.get(job.task.task_id, ("ok", 1.0)))
        if isinstance(b, list):    # one entry per call, the last one repeats
            return b.pop(0) if len(b) > 1 else b[0]
        return b

    # -- the ActorLayer protocol -------------------------------------------------------------------------
    def start_pipeline(self, pipeline, token):
        load = self.load_s.pop(0) if len(self.load_s) > 1 else self.load_s[0]
        a = FakeActor(token, self.now, self.now + load, concurrent=self.depth[1])
        a.free_at = a.loaded_at
        self.actors.append(a)
        return a

    def ping(self, actor):
        if isinstance(actor, FakeActor):
            return FakeRef(actor, actor.loaded_at, "ok")
        return FakeRef(None, self.now, "ok")

    def generate(self, actor: FakeActor, job: Job, inputs):
        actor.jobs.append(job)
        start = max(self.now, actor.loaded_at) if actor.concurrent else max(self.now, actor.free_at)
        if start >= actor.dead_at:
            start = INF
        kind, *rest = self._behaviour(job)
        secs = rest[0] if rest else 0.0
        end = start + secs
        if start < INF:
            actor.starts.append((start, job.key))
        row = new_row(job, run_id="r", suite="s")
        if kind == "fail":
            row.status, row.error = "error", "ValueError: boom"
        reply = end
        if kind == "hang":
            end = reply = INF
        elif kind == "die":
            actor.dead_at = min(actor.dead_at, end)
            reply = INF
        elif kind == "lost":
            reply = INF
        if not actor.concurrent:
            actor.free_at = end
        value = row if self.pool else row.to_record()
        return FakeRef(actor, reply, value), (FakeRef(actor, reply, f"out-{job.key}") if self.pool else None)

    def load_inputs(self, job):
        self.prefetched.append(job.key)
        return FakeRef(None, self.now, {"inputs": job.key})

    def start_scorer(self):
        self.scorers_started += 1
        return f"scorer-{self.scorers_started}"

    def score(self, scorer, jobs, rows, outputs):
        self.scored.append([j.key for j in jobs])
        if self.scorer_dies and scorer == "scorer-1":
            return FakeRef(None, self.now + self.score_s, error=ActorDied(RuntimeError("scorer process died")))
        recs = []
        for r in rows:
            r.metrics = {"fake.score": 1.0}
            recs.append(r.to_record())
        return FakeRef(None, self.now + self.score_s, recs)

    def _ready_at(self, ref: FakeRef) -> float:
        a = ref.actor
        if a is None:
            return ref.reply_at
        if a.killed:
            return INF
        return min(ref.reply_at, a.dead_at)

    def wait(self, refs, *, num_returns, timeout):
        times = sorted(self._ready_at(r) for r in refs)
        needed = times[num_returns - 1] if len(times) >= num_returns else INF
        deadline = self.now + (timeout if timeout is not None else INF)
        t = min(max(needed, self.now), deadline)
        assert t < 1e4, "the dispatcher waits forever"
        self.now = t
        return [r for r in refs if self._ready_at(r) <= self.now]

    def get(self, ref: FakeRef):
        if ref.error is not None:
            raise ref.error
        a = ref.actor
        if a is not None and a.dead_at <= self.now and a.dead_at <= ref.reply_at:
            raise ActorDied(RuntimeError("The actor died unexpectedly before finishing this task."))
        return ref.value

    def kill(self, actor):
        if isinstance(actor, FakeActor):
            actor.killed = True

    def snapshot(self):
        snap = {}
        for a in self.actors:
            if a.token in self.forgotten:
                continue
            started = [(t, k) for t, k in a.starts if t <= min(self.now, a.dead_at)]
            if started:
                t, k = max(started, key=lambda s: s[0])
                snap[a.token] = (k, self.now - t)
        return snap

    def forget(self, token):
        self.forgotten.add(token)

    def describe(self):
        return "the fake cluster offers 1 CPU"


def jobs(*task_ids: str, pipeline: PipelineSpec = P) -> list[Job]:
    return [Job(Task(task_id=t, kind="toy"), pipeline, 0) for t in task_ids]


def dispatch(layer: FakeActors, todo: list[Job], *, actors: int = 1, **limits) -> tuple[dict[str, dict], Dispatcher]:
    rows: list[dict] = []
    key = todo[0].pipeline.key
    d = Dispatcher(layer, todo, pipelines=[todo[0].pipeline], actors={key: actors}, depth={key: layer.depth},
                   limits=Limits(pool=layer.pool, **limits), record=rows.append, run_id="r", suite="s",
                   clock=layer.clock)
    d.run()
    by_task = {r["task_id"]: r for r in rows}
    assert len(by_task) == len(rows) == len(todo), "every job gets exactly one row"
    return by_task, d


def test_all_ok_in_order_with_prefetch():
    layer = FakeActors()
    rows, d = dispatch(layer, jobs("a", "b", "c", "d"))
    assert {r["status"] for r in rows.values()} == {"ok"}
    assert [j.task.task_id for j in layer.actors[0].jobs] == ["a", "b", "c", "d"]
    # the inputs of the job after the actor's queue are decoded ahead, and each job's are decoded once
    assert sorted(layer.prefetched) == sorted(j.key for j in jobs("a", "b", "c", "d"))
    assert layer.now == pytest.approx(4.0)   # depth 2 keeps the actor busy: no gap between jobs


def test_timeout_of_a_started_job_replaces_the_actor_and_requeues_the_others():
    layer = FakeActors({"b": ("hang",)})
    rows, d = dispatch(layer, jobs("a", "b", "c", "d"), task_timeout_s=5.0)
    assert rows["b"]["status"] == "timeout" and "time limit of 5 s" in rows["b"]["error"]
    assert all(rows[t]["status"] == "ok" and rows[t]["attempt"] == 1 for t in "acd")
    first, second = layer.actors
    assert first.killed and first.token in layer.forgotten
    # c was queued on the hung actor (depth 2): it goes back and runs on the replacement, before d
    assert [j.task.task_id for j in second.jobs] == ["c", "d"]
    # timed from b's start (a took 1 s), not from its submission at 0 s
    assert 6.0 <= second.created <= 6.0 + Limits().poll_s + 1e-9


def test_queueing_and_loading_never_count_towards_the_time_limit():
    layer = FakeActors(load_s=(3.0,), depth=(4, False))
    rows, _ = dispatch(layer, jobs("a", "b", "c", "d"), task_timeout_s=1.5)
    assert {r["status"] for r in rows.values()} == {"ok"}    # d waited 6 s (3 s loading + 3 jobs) in total


def test_death_is_blamed_on_the_boards_culprit_and_retried():
    # a finishes but its reply is lost; b kills the actor: the board names b, so a is requeued unchanged
    layer = FakeActors({"a": [("lost", 1.0), ("ok", 1.0)], ("b", 1): ("die", 0.5)})
    rows, _ = dispatch(layer, jobs("a", "b", "c"), max_retries=1)
    assert rows["a"]["status"] == "ok" and rows["a"]["attempt"] == 1
    assert rows["b"]["status"] == "ok" and rows["b"]["attempt"] == 2
    assert rows["c"]["status"] == "ok" and rows["c"]["attempt"] == 1
    assert len(layer.actors) == 2 and layer.actors[0].killed


def test_a_job_that_always_kills_its_actor_ends_as_an_error_row():
    layer = FakeActors({"b": ("die", 0.5)})
    rows, _ = dispatch(layer, jobs("a", "b", "c"), max_retries=2)
    assert rows["b"]["status"] == "error" and rows["b"]["attempt"] == 3
    assert "died on each of 3 attempts" in rows["b"]["error"]
    assert rows["a"]["status"] == rows["c"]["status"] == "ok"
    assert len(layer.actors) == 4          # the first actor and one replacement per death


def test_without_a_start_on_the_board_the_oldest_job_is_blamed():
    layer = FakeActors({"a": ("die", 0.0)})
    layer.snapshot = lambda: {}            # e.g. the start report never reached the board
    rows, _ = dispatch(layer, jobs("a", "b"), max_retries=0)
    assert rows["a"]["status"] == "error" and rows["b"]["status"] == "ok"


def test_a_replacement_that_does_not_load_in_time_costs_its_first_job():
    # the first actor loads at once and dies on b; its replacement takes 50 s to load (limit 10 s);
    # the third loads at once
    layer = FakeActors({"b": ("die", 0.5)}, load_s=(0.0, 50.0, 0.0))
    rows, _ = dispatch(layer, jobs("a", "b", "c", "d"), max_retries=1, load_timeout_s=10.0)
    assert rows["b"]["status"] == "error" and "did not load within the load timeout of 10 s" in rows["b"]["error"]
    assert rows["b"]["attempt"] == 2
    assert all(rows[t]["status"] == "ok" for t in "acd")
    assert len(layer.actors) == 3 and layer.actors[1].killed


def test_actors_that_do_not_load_at_the_start_stop_the_run():
    layer = FakeActors(load_s=(50.0,))
    with pytest.raises(EditbenchError, match="only 0 of 2 actors .* load timeout of 10 s.*fake cluster"):
        dispatch(layer, jobs("a", "b"), actors=2, load_timeout_s=10.0)


def test_out_of_order_completion_of_a_concurrent_actor():
    layer = FakeActors({"a": ("ok", 5.0), "b": ("ok", 1.0), "c": ("ok", 2.0), "d": ("hang",)}, depth=(4, True))
    order: list[str] = []
    d = Dispatcher(layer, jobs("a", "b", "c", "d"), pipelines=[P], actors={P.key: 1}, depth={P.key: (4, True)},
                   limits=Limits(task_timeout_s=8.0), record=lambda r: order.append((r["task_id"], r["status"])),
                   run_id="r", suite="s", clock=layer.clock)
    d.run()
    assert order[:3] == [("b", "ok"), ("c", "ok"), ("a", "ok")]   # as they finish, not as submitted
    assert order[3] == ("d", "timeout")                          # timed from submission: all run at once
    assert len(layer.actors) == 2


def test_pipeline_errors_are_rows_and_infrastructure_errors_stop_the_run():
    layer = FakeActors({"a": ("fail", 1.0)})
    rows, _ = dispatch(layer, jobs("a", "b"))
    assert rows["a"]["status"] == "error" and rows["b"]["status"] == "ok"

    class Broken(FakeActors):
        def get(self, ref):
            raise OSError(28, "No space left on device", "/out/outputs/p/a__s0.png")

    with pytest.raises(InfrastructureError, match="No space left"):
        dispatch(Broken(), jobs("a"))


def test_scorer_pool_batches_adaptively_and_scores_every_row():
    layer = FakeActors(pool=True, score_s=3.0, depth=(2, False))
    rows, _ = dispatch(layer, jobs(*"abcdefgh"), scorer_actors=1, score_batch=3)
    assert all(r["status"] == "ok" and r["fake.score"] == 1.0 for r in rows.values())
    # the first output goes out alone (an idle scorer); later ones wait for a full batch or an idle scorer
    assert layer.scored[0] == [jobs("a")[0].key]
    assert max(len(b) for b in layer.scored) > 1 and all(len(b) <= 3 for b in layer.scored)
    assert sorted(k for b in layer.scored for k in b) == sorted(j.key for j in jobs(*"abcdefgh"))


def test_scorer_death_keeps_the_rows_with_a_score_error():
    layer = FakeActors(pool=True, scorer_dies=True)
    rows, d = dispatch(layer, jobs("a", "b", "c"), scorer_actors=1, score_batch=1)
    lost = [r for r in rows.values() if r["score_error"]]
    assert lost and all("scoring failed" in r["score_error"] and "scorer process died" in r["score_error"]
                        for r in lost)
    assert all(r["status"] == "ok" for r in rows.values())
    assert all("fake.score" not in r for r in lost)      # unscored: the column is NaN in the table
    assert layer.scorers_started == 2 and d.scorers == ["scorer-2"]   # the dead scorer was replaced
    scored = [r for r in rows.values() if not r["score_error"]]
    assert scored and all(r["fake.score"] == 1.0 for r in scored)
