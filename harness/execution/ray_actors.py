"""The Ray side of the dispatcher (:class:`harness.execution.dispatch.ActorLayer`): pipeline and scorer actors, the
run's start board, the prefetch task, and the translation of Ray's actor deaths into ``ActorDied``.

Nothing here decides anything; the policy (retries, timeouts, culprits) is :mod:`harness.execution.dispatch`'s.
"""

from __future__ import annotations

from harness.contract.spec import PipelineSpec
from harness.core.imageio import prefetch_task_inputs
from harness.execution.dispatch import ActorDied
from harness.execution.worker import Job, ScorerWorker, StartBoard, Worker
from tasks.schema import Task

FILE_FIELDS = ("image", "mask", "control", "reference", "target")


def _load_inputs(task: Task):
    return prefetch_task_inputs(task)


def has_files(task: Task) -> bool:
    return any(isinstance(getattr(task, f), str) for f in FILE_FIELDS)


class RayActors:
    """Actors of one run on the Ray of ``ray`` (initialised), sized by ``plan`` (harness.execution.runner.ActorPlan).

    ``depth[key]`` is (jobs in flight, concurrent) per pipeline: a concurrent pipeline's actor runs that
    many requests at once (``max_concurrency``)."""

    def __init__(self, ray, *, plan, depth: dict[str, tuple[int, bool]], scorers: list[str],
                 scorer_options: dict, out: str, run_id: str, suite: str, prefetch: bool,
                 num_gpus_per_scorer: float = 0.0):
        self.ray, self.plan, self.depth = ray, plan, depth
        self.pool = plan.scoring == "pool"
        self.scorer_names, self.scorer_options = scorers, scorer_options
        self.out, self.run_id, self.suite = out, run_id, suite
        self.num_gpus_per_scorer = num_gpus_per_scorer
        self._worker = ray.remote(Worker)
        self._scorer = ray.remote(ScorerWorker)
        self._load = ray.remote(num_cpus=0)(_load_inputs) if prefetch else None
        self.board = ray.remote(num_cpus=0)(StartBoard).remote()

    def start_pipeline(self, pipeline: PipelineSpec, token: str):
        n, concurrent = self.depth[pipeline.key]
        return self._worker.options(num_cpus=self.plan.num_cpus, num_gpus=self.plan.num_gpus[pipeline.key],
                                    max_concurrency=n if concurrent else 1).remote(
            pipeline, self.scorer_names, out=self.out, run_id=self.run_id, suite=self.suite,
            score_inline=not self.pool, scorer_options=self.scorer_options, board=self.board, token=token)

    def ping(self, actor):
        return actor.ping.remote()

    def generate(self, actor, job: Job, inputs):
        if self.pool:
            row_ref, out_ref = actor.generate.options(num_returns=2).remote(job, inputs)
            return row_ref, out_ref
        return actor.run.remote(job, inputs), None

    def load_inputs(self, job: Job):
        if self._load is None or not has_files(job.task):
            return None
        return self._load.remote(job.task)

    def start_scorer(self):
        return self._scorer.options(num_cpus=self.plan.num_cpus, num_gpus=self.num_gpus_per_scorer).remote(
            self.scorer_names, out=self.out, scorer_options=self.scorer_options)

    def score(self, scorer, jobs, rows, outputs):
        return scorer.finish.remote(jobs, rows, outputs)

    def wait(self, refs, *, num_returns: int, timeout: float | None):
        if not refs:
            return []
        ready, _ = self.ray.wait(refs, num_returns=num_returns, timeout=timeout)
        return ready

    def get(self, ref):
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayActorError as e:
            raise ActorDied(e) from e

    def kill(self, actor) -> None:
        self.ray.kill(actor, no_restart=True)

    def snapshot(self) -> dict:
        return self.ray.get(self.board.snapshot.remote())

    def forget(self, token: str) -> None:
        self.board.forget.remote(token)

    def describe(self) -> str:
        return (f"the cluster offers {self.ray.cluster_resources()} and the run asks for {self.plan.actors} actors "
                f"with {self.plan.num_cpus:g} CPU and {self.plan.num_gpus} GPU each")

    def close(self) -> None:
        self.ray.kill(self.board, no_restart=True)
