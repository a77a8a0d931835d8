"""One writer per run directory: the run lock, stale-lock take-over, and what readers say meanwhile."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from harness.contract.spec import RunSpec
from harness.core.storage import LOCK_NAME, RunLock, RunLocked, read_lock, running_note
from harness.execution.ray_local import import_psutil
from harness.workflow import run
from tests.hostile.helpers import fake_run, row, toy_suite


@pytest.fixture
def other_process():
    """A live process that is not this one (the holder of a foreign lock)."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield p
    p.kill()
    p.wait()


def _write_lock(out, pid, *, host=None, created=0.0):
    created = created or import_psutil().Process(pid).create_time()
    (out / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                             "since": "2026-01-01T00:00:00Z", "command": "editbench run",
                                             "created": created}))


def test_second_writer_refused_naming_the_holder(tmp_path):
    first = RunLock(tmp_path).acquire()
    with pytest.raises(RunLocked) as e:
        RunLock(tmp_path).acquire()
    msg = str(e.value)
    assert f"pid {first._me().pid}" in msg and socket.gethostname() in msg and "\n" not in msg
    first.release()
    assert not (tmp_path / LOCK_NAME).exists()
    RunLock(tmp_path).acquire().release()


def test_lock_of_a_live_foreign_process_refuses_run_before_any_write(tmp_path, other_process):
    out = tmp_path / "o"
    out.mkdir()
    _write_lock(out, other_process.pid)
    suite = toy_suite(tmp_path / "s.yaml", ["a"])
    with pytest.raises(RunLocked, match=f"pid {other_process.pid}"):
        run(RunSpec(suite=str(suite)), out=out, progress=False)
    assert not (out / "run.json").exists() and not (out / "results").exists()
    assert read_lock(out).pid == other_process.pid  # the holder's lock is left alone


def test_stale_lock_of_a_dead_pid_is_taken_over(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    _write_lock(tmp_path, p.pid, created=1.0)
    lock = RunLock(tmp_path).acquire()
    assert read_lock(tmp_path).pid == lock._me().pid
    lock.release()


def test_stale_lock_whose_pid_was_reused_is_taken_over(tmp_path, other_process):
    _write_lock(tmp_path, other_process.pid, created=12345.0)  # same pid, another process start time
    RunLock(tmp_path).acquire().release()


def test_lock_of_another_host_is_never_declared_stale(tmp_path):
    _write_lock(tmp_path, 1, host="some-other-host", created=1.0)
    with pytest.raises(RunLocked, match="some-other-host"):
        RunLock(tmp_path).acquire()


def test_report_says_when_the_run_is_still_being_written(tmp_path, other_process, capsys):
    from reports.write import write_report

    out = fake_run(tmp_path / "o", [row("a"), row("b")], status="running")
    _write_lock(out, other_process.pid)
    assert "still being written" in running_note(out, {"status": "running"})
    write_report(out, html=False)
    assert "still being written" in capsys.readouterr().err
    assert not list(out.glob(".*.tmp"))  # written through a temporary file and a rename
    (out / LOCK_NAME).unlink()
    assert "interrupted" in running_note(out, {"status": "running"})
    assert running_note(out, {"status": "complete"}) is None


def test_two_cli_runs_into_one_out_cannot_both_proceed(tmp_path):
    import os
    import signal
    import time

    from tests.hostile.helpers import ROOT, assert_one_sentence, editbench

    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nversion: '1'\npipelines: [{name: synthetic, options: {sleep_ms: 2000}}]\n"
                     "seeds: [0]\nscorers: [latency]\ntasks:\n"
                     + "".join(f"  - {{task_id: t{i}, kind: toy, meta: {{mask_fraction: 0.2}}}}\n" for i in range(8)))
    out = tmp_path / "o"
    first = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", "--suite", str(suite), "--out", str(out),
                              "--no-progress"], cwd=ROOT, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and read_lock(out) is None:
            time.sleep(0.1)
        assert read_lock(out) is not None and read_lock(out).pid == first.pid
        for args in ([], ["--resume"]):
            res = editbench("run", "--suite", str(suite), "--out", str(out), *args)
            assert_one_sentence(res, f"pid {first.pid}", socket.gethostname())
        assert first.poll() is None
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
