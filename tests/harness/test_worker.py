"""The worker's scoring path: batching per scorer, failure isolation, output files."""

from __future__ import annotations

import math

import numpy as np

from harness.contract.spec import PipelineSpec
from harness.execution.worker import Job, finish_rows, new_row
from harness.pipelines.base import Output
from scorers.base import Scorer
from tasks.schema import Task


class CountingScorer(Scorer):
    """Not registered: mean pixel value; raises on outputs whose first pixel is 0."""

    name = "counting"
    metrics = {"mean": "higher"}
    kinds = frozenset({"inpaint"})

    def __init__(self):
        super().__init__()
        self.batches: list[int] = []

    def score(self, task, output):
        if output.image[0, 0, 0] == 0:
            raise ValueError("first pixel is zero")
        return {"mean": float(output.image.mean())}

    def score_batch(self, tasks, outputs):
        self.batches.append(len(tasks))
        return [self.score(t, o) for t, o in zip(tasks, outputs)]


def make(i: int, kind: str, value: int):
    task = Task(task_id=f"t{i}.x", kind=kind, meta={"mask_fraction": 0.2})
    job = Job(task=task, pipeline=PipelineSpec(name="synthetic"), seed=0)
    out = Output(image=np.full((4, 4, 3), value, dtype=np.uint8), latency_ms=1.0)
    return new_row(job, run_id="r", suite="s"), job, out


def test_each_scorer_runs_once_over_the_jobs_it_applies_to(tmp_path):
    items = [make(0, "inpaint", 10), make(1, "toy", 20), make(2, "inpaint", 30)]
    scorer = CountingScorer()
    recs = finish_rows(*map(list, zip(*items)), [scorer], tmp_path)
    assert scorer.batches == [2]
    assert [r["counting.mean"] for r in recs[::2]] == [10.0, 30.0]
    assert math.isnan(recs[1]["counting.mean"])  # toy task: scorer does not apply
    # one file per row, named after the task id even when it holds a dot
    assert [r["output_path"] for r in recs] == [f"outputs/synthetic/t{i}.x__s0.png" for i in range(3)]
    assert all((tmp_path / r["output_path"]).is_file() for r in recs)


def test_a_failing_item_leaves_nan_only_for_itself(tmp_path):
    items = [make(0, "inpaint", 10), make(1, "inpaint", 0), make(2, "inpaint", 30)]
    recs = finish_rows(*map(list, zip(*items)), [CountingScorer()], tmp_path)
    assert [r["counting.mean"] for r in (recs[0], recs[2])] == [10.0, 30.0]
    assert math.isnan(recs[1]["counting.mean"])
    assert recs[1]["score_error"] == "counting: ValueError: first pixel is zero"
    assert recs[0]["score_error"] is None and recs[1]["status"] == "ok"
