"""Infrastructure failures stop the run (exit 4, run.json incomplete) and --resume retries their jobs;
--resume refuses other seeds/pipelines/scorers unless --extend; run.json status comes from keys on disk."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import harness.execution.runner as runner
from harness.cli import app
from harness.contract.results import read_results
from harness.contract.spec import PipelineSpec, RunSpec
from harness.core.errors import EditbenchError, InfrastructureError
from harness.core.storage import LOCK_NAME
from harness.execution.worker import Job, finish_rows, new_row
from harness.pipelines.base import Output
from tasks.schema import Task
from tests.hostile.helpers import toy_suite


def _meta(out):
    return json.loads((out / "run.json").read_text())


def _disk_full(out, records):
    raise OSError(errno.ENOSPC, "No space left on device", str(out / "results" / ".part-x.parquet.tmp"))


def test_disk_full_stops_the_run_with_exit_4_and_resume_retries(ray_session, tmp_path, monkeypatch):
    suite = toy_suite(tmp_path / "s.yaml", ["a", "b"])
    out = tmp_path / "o"
    monkeypatch.setattr(runner, "write_shard", _disk_full)
    res = CliRunner().invoke(app, ["run", "--suite", str(suite), "--out", str(out), "--no-progress"])
    assert res.exit_code == 4, res.output
    assert "No space left on device" in res.output and "Traceback" not in res.output
    meta = _meta(out)
    assert meta["status"] == "incomplete" and "No space left" in meta["attempts"][-1]["infrastructure_error"]
    assert read_results(out).empty                      # no job became a false error row
    assert not (out / LOCK_NAME).exists()
    monkeypatch.undo()
    runner.run(RunSpec(suite=str(suite), resume=True), out=out, progress=False)
    df = read_results(out)
    assert sorted(df["task_id"]) == ["a", "b"] and (df["status"] == "ok").all()
    assert _meta(out)["status"] == "complete" and len(_meta(out)["attempts"]) == 2


def test_resume_refuses_other_seeds_unless_extend(ray_session, tmp_path):
    suite = toy_suite(tmp_path / "s.yaml", ["a", "b"])
    out = tmp_path / "o"
    runner.run(RunSpec(suite=str(suite), seeds=[0]), out=out, progress=False)
    for change in ({"seeds": [0, 1]}, {"scorers": ["latency", "toy"]},
                   {"pipelines": ["toy-naive", "toy-repaint"]}):
        with pytest.raises(EditbenchError, match="--extend"):
            runner.run(RunSpec(suite=str(suite), resume=True, **change), out=out, progress=False)
    assert len(read_results(out)) == 2 and len(_meta(out)["attempts"]) == 1
    runner.run(RunSpec(suite=str(suite), seeds=[1], resume=True, extend=True), out=out, progress=False)
    meta = _meta(out)
    assert meta["seeds"] == [0, 1] and meta["status"] == "complete"
    assert sorted(map(tuple, meta["jobs"]["planned"])) == [("a", "toy-naive", 0), ("a", "toy-naive", 1),
                                                          ("b", "toy-naive", 0), ("b", "toy-naive", 1)]
    assert [a["extend"] for a in meta["attempts"]] == [False, True]
    assert len(read_results(out)) == 4


def test_interrupted_resume_is_incomplete_by_keys_not_counts(tmp_path, monkeypatch):
    """Rows of other seeds on disk must not make an interrupted extension look complete."""
    from harness.contract.results import write_shard

    suite = toy_suite(tmp_path / "s.yaml", ["a", "b"])
    out = tmp_path / "o"
    out.mkdir()
    rows = [new_row(Job(Task(task_id=t, kind="toy"), PipelineSpec(name="toy-naive"), s), run_id="r", suite="hostile")
            for t in "ab" for s in (0, 1)]
    write_shard(out, [r.to_record() for r in rows])

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_dispatch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run(RunSpec(suite=str(suite), seeds=[2], resume=True), out=out, progress=False)
    meta = _meta(out)
    assert meta["status"] == "incomplete" and meta["attempts"][-1]["interrupted"]
    assert meta["jobs"]["done"] == 0 and len(meta["jobs"]["missing"]) == 2
    assert not (out / LOCK_NAME).exists()


def test_output_write_failure_in_a_worker_is_infrastructure(tmp_path, monkeypatch):
    import harness.execution.worker as worker

    def full(output, stem):
        raise OSError(errno.ENOSPC, "No space left on device", str(stem) + ".png")

    monkeypatch.setattr(worker, "save_output", full)
    job = Job(Task(task_id="a", kind="toy"), PipelineSpec(name="toy-naive"), 0)
    with pytest.raises(InfrastructureError, match="No space left"):
        finish_rows([new_row(job, run_id="r", suite="s")], [job], [Output(image=np.zeros((2, 2, 3), np.uint8))], [],
                    tmp_path)


def test_an_actor_infrastructure_error_stops_the_driver():
    class RayTaskErrorLike(Exception):
        cause = InfrastructureError("cannot write /out/outputs/p/a__s0.png: No space left on device")

    class RayTaskErrorOSError(Exception):
        cause = OSError(errno.EIO, "Input/output error", "/out/.journal/x.txt")

    with pytest.raises(InfrastructureError, match="No space left"):
        runner._raise_if_infrastructure(RayTaskErrorLike())
    with pytest.raises(InfrastructureError, match="/out/.journal/x.txt: Input/output error"):
        runner._raise_if_infrastructure(RayTaskErrorOSError())
    runner._raise_if_infrastructure(ValueError("a pipeline bug stays a row"))
    runner._raise_if_infrastructure(OSError(errno.ENOENT, "No such file"))
