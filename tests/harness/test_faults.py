"""Faults become rows, not crashes: exceptions, NaN outputs, timeouts, dying actors, a killed driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness.contract.results import read_results
from harness.contract.spec import RunSpec
from harness.workflow import run

ROOT = Path(__file__).resolve().parents[2]
KEY = ["task_id", "pipeline", "seed"]


def write_suite(path: Path, n: int) -> Path:
    tasks = [{"task_id": f"t{i:02d}", "kind": "toy", "meta": {"mask_fraction": 0.2, "index": i}} for i in range(n)]
    path.write_text(yaml.safe_dump({"name": "faults", "version": "1", "pipelines": ["synthetic"],
                                    "seeds": [0], "scorers": ["latency"], "tasks": tasks}))
    return path


def assert_one_row_per_key(df: pd.DataFrame, n_keys: int) -> None:
    assert len(df) == n_keys
    assert not df.duplicated(KEY).any()


@pytest.fixture(scope="module")
def faulty_run(ray_session, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    suite = write_suite(tmp / "suite.yaml", 10)
    options = {"sleep_ms": 20, "fail_on": ["t03"], "nan_on": ["t04"], "sleep_on": {"t06": 60},
               "die_on": ["t01", "t08"], "die_once_dir": str(tmp / "markers")}
    spec = RunSpec(suite=str(suite), pipelines=[{"name": "synthetic", "options": options}],
                   actors_per_pipeline=2, task_timeout_s=5, max_retries=1, flush_every=3)
    out = run(spec, out=tmp / "out", progress=False)
    return out, tmp


def rows_by_task(out: Path) -> dict[str, dict]:
    return {r["task_id"]: r for r in read_results(out).to_dict("records")}


def test_every_key_has_exactly_one_row(faulty_run):
    out, _ = faulty_run
    assert_one_row_per_key(read_results(out), 10)
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "complete"
    assert (out / "leaderboard.md").is_file()  # the run always writes its report


def test_pipeline_exception_is_an_error_row(faulty_run):
    r = rows_by_task(faulty_run[0])["t03"]
    assert r["status"] == "error"
    assert r["error"] == "RuntimeError: synthetic failure injected on task t03"
    assert pd.isna(r["output_path"])


def test_non_finite_output_is_an_error_row(faulty_run):
    r = rows_by_task(faulty_run[0])["t04"]
    assert r["status"] == "error" and "non-finite" in r["error"]


def test_task_over_its_time_limit_is_a_timeout_row(faulty_run):
    rows = rows_by_task(faulty_run[0])
    assert rows["t06"]["status"] == "timeout"
    assert rows["t06"]["error"] == "task exceeded its time limit of 5 s"


def test_actor_death_is_retried(faulty_run):
    out, tmp = faulty_run
    rows = rows_by_task(out)
    # die_once_dir: each of t01 and t08 killed its actor once, then succeeded on the retry
    for t in ("t01", "t08"):
        assert rows[t]["status"] == "ok", rows[t]
        assert rows[t]["attempt"] == 2
        assert (tmp / "markers" / f"died-{t}-0").exists()


def test_other_tasks_are_untouched(faulty_run):
    rows = rows_by_task(faulty_run[0])
    for t in ("t00", "t02", "t05", "t07", "t09"):
        assert rows[t]["status"] == "ok" and rows[t]["attempt"] == 1
        assert pd.isna(rows[t]["error"])
        assert (faulty_run[0] / rows[t]["output_path"]).is_file()


def test_actor_that_always_dies_ends_as_an_error(ray_session, tmp_path):
    suite = write_suite(tmp_path / "suite.yaml", 4)
    spec = RunSpec(suite=str(suite), pipelines=[{"name": "synthetic", "options": {"die_on": ["t02"]}}],
                   actors_per_pipeline=1, max_retries=2)
    out = run(spec, out=tmp_path / "out", progress=False)
    df = read_results(out)
    assert_one_row_per_key(df, 4)
    r = df.set_index("task_id").loc["t02"]
    assert r["status"] == "error" and r["attempt"] == 3
    assert r["error"] == "the actor process died on each of 3 attempts at this task"
    assert (df.set_index("task_id").drop("t02")["status"] == "ok").all()


def test_scorer_pool_gives_the_same_rows_as_inline(ray_session, tmp_path):
    suite = write_suite(tmp_path / "suite.yaml", 6)
    p = [{"name": "synthetic", "options": {"fail_on": ["t01"]}}]
    a = run(RunSpec(suite=str(suite), pipelines=p, scoring="inline"), out=tmp_path / "a", progress=False)
    b = run(RunSpec(suite=str(suite), pipelines=p, scoring="pool", scorer_actors=1), out=tmp_path / "b", progress=False)
    da, db = (read_results(x).sort_values(KEY).reset_index(drop=True) for x in (a, b))
    assert list(da["status"]) == list(db["status"])
    assert list(da["output_path"]) == list(db["output_path"])
    assert db["latency.total_ms"].notna().sum() == 5
    assert json.loads((b / "run.json").read_text())["attempts"][-1]["scoring"] == "pool"


def test_driver_killed_mid_run_then_resume(ray_session, tmp_path):
    suite = write_suite(tmp_path / "suite.yaml", 24)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump({
        "suite": str(suite), "pipelines": [{"name": "synthetic", "options": {"sleep_ms": 300}}],
        "actors_per_pipeline": 1, "flush_every": 2}))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(spec_file), "--out", str(out),
                             "--no-progress"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(list((out / "results").glob("*.parquet"))) < 2:
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        before = read_results(out)
        assert 2 <= len(before) < 24  # at least two shards were flushed before the kill
        assert json.loads((out / "run.json").read_text())["status"] == "running"

        run(RunSpec(suite=str(suite), pipelines=[{"name": "synthetic", "options": {"sleep_ms": 300}}],
                    resume=True), out=out, progress=False)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything the killed driver left behind
        except ProcessLookupError:
            pass
    after = read_results(out)
    assert_one_row_per_key(after, 24)
    assert (after["status"] == "ok").all()
    # rows computed before the kill are unchanged
    merged = before.merge(after, on=KEY, suffixes=("_before", "_after"))
    assert len(merged) == len(before)
    for col in ("run_id", "latency_ms", "output_path", "attempt"):
        assert (merged[f"{col}_before"] == merged[f"{col}_after"]).all(), col
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "complete" and len(meta["attempts"]) == 2
    assert meta["attempts"][1]["jobs_skipped"] == len(before)


def test_cli_run_exit_code_and_summary_without_progress(ray_session, tmp_path):
    """Failed rows: exit 3 (EXIT_ROWS_FAILED) with the rows kept; all ok: exit 0; the ok/error/timeout
    line is printed with --no-progress."""
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.core.errors import EXIT_ROWS_FAILED

    suite = write_suite(tmp_path / "suite.yaml", 3)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"suite": str(suite), "actors_per_pipeline": 1,
                                    "pipelines": [{"name": "synthetic", "options": {"fail_on": ["t01"]}}]}))
    r = CliRunner().invoke(app, ["run", str(spec), "--out", str(tmp_path / "bad"), "--no-progress"])
    assert r.exit_code == EXIT_ROWS_FAILED == 3, r.stderr
    assert "2 ok, 1 error, 0 timeout" in r.stderr
    assert_one_row_per_key(read_results(tmp_path / "bad"), 3)
    r = CliRunner().invoke(app, ["run", "--suite", str(suite), "--pipelines", "synthetic", "--out",
                                 str(tmp_path / "good"), "--no-progress"])
    assert r.exit_code == 0, r.stderr
    assert "3 ok, 0 error, 0 timeout" in r.stderr


def test_timeout_runs_from_the_task_start_and_never_cascades(ray_session, tmp_path):
    """Loading (2 s of CPU) takes longer than the task limit (1.5 s): only the genuinely slow task
    times out; the next task, run by the replacement actor after it reloads, ends ok."""
    suite = write_suite(tmp_path / "suite.yaml", 5)
    options = {"load_ms": 2000, "sleep_ms": 20, "sleep_on": {"t01": 60}}
    spec = RunSpec(suite=str(suite), pipelines=[{"name": "synthetic", "options": options}],
                   actors_per_pipeline=1, task_timeout_s=1.5, load_timeout_s=300)
    out = run(spec, out=tmp_path / "out", progress=False)
    rows = rows_by_task(out)
    assert rows["t01"]["status"] == "timeout"
    assert rows["t01"]["error"] == "task exceeded its time limit of 1.5 s"
    for t in ("t00", "t02", "t03", "t04"):
        assert rows[t]["status"] == "ok", rows[t]
    assert rows["t02"]["warmup"]        # t02 was the first task of the replacement actor


def test_load_timeout_is_its_own_limit(ray_session, tmp_path):
    from harness.core.errors import EditbenchError

    suite = write_suite(tmp_path / "suite.yaml", 2)
    spec = RunSpec(suite=str(suite), pipelines=[{"name": "synthetic", "options": {"load_ms": 5000}}],
                   actors_per_pipeline=1, load_timeout_s=0.5, task_timeout_s=60)
    with pytest.raises(EditbenchError, match="load timeout of 0.5 s"):
        run(spec, out=tmp_path / "out", progress=False)


def test_storage_failure_stops_the_run_with_exit_4(ray_session, tmp_path, monkeypatch):
    """A full disk while writing rows: one sentence naming the path, exit 4 (EXIT_INFRASTRUCTURE), and
    run.json records the unfinished attempt."""
    import errno

    from typer.testing import CliRunner

    import harness.execution.runner
    from harness.cli import app
    from harness.core.errors import EXIT_INFRASTRUCTURE

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(harness.execution.runner, "write_shard", full)
    suite = write_suite(tmp_path / "suite.yaml", 2)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", "--suite", str(suite), "--pipelines", "synthetic", "--out", str(out),
                                 "--no-progress"])
    assert r.exit_code == EXIT_INFRASTRUCTURE == 4, r.stderr
    err = [line for line in r.stderr.splitlines() if line.startswith("editbench: error: ")]
    assert len(err) == 1 and str(out / "results") in err[0] and "No space left on device" in err[0]
    assert "Traceback" not in r.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "incomplete"
