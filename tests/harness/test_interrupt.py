"""Nothing hangs silently: a wrong or silent --address answers in one sentence, Ctrl-C stops every stage
and says what was kept and how to finish, and `run --resume --out DIR` alone finishes the run.

Real subprocesses of the CLI, real signals (SIGINT to the driver's process group, as a terminal's Ctrl-C).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from harness.contract.results import read_results
from harness.core.errors import EXIT_INTERRUPTED, EditbenchError
from harness.execution.ray_connect import call_with_timeout, is_loopback, split_address

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ray          # each test's CLI subprocess starts (or tries to join) a Ray


def cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)    # as in a fresh shell: editbench must set it itself
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a wrong service, a stuck head)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop, conns = threading.Event(), []

    def serve():
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


def wait_for_line(proc: subprocess.Popen, needle: str, *, timeout: float = 180) -> list[str]:
    """Read stderr lines until one contains ``needle``; returns the lines read."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never appeared on stderr:\n{''.join(lines)}")


def write_suite(path: Path, n: int) -> Path:
    tasks = [{"task_id": f"t{i:02d}", "kind": "toy", "meta": {"mask_fraction": 0.2}} for i in range(n)]
    path.write_text(yaml.safe_dump({"name": "slow", "version": "1", "seeds": [0], "scorers": ["latency"],
                                    "pipelines": [{"name": "synthetic", "options": {"sleep_ms": 400}}],
                                    "tasks": tasks}))
    return path


# -- units --------------------------------------------------------------------------------------------------

def test_addresses():
    assert split_address("127.0.0.1:6379") == ("127.0.0.1", 6379)
    assert is_loopback("127.0.0.1:6379") and is_loopback("localhost:1") and is_loopback("[::1]:6379")
    assert not is_loopback("10.0.0.5:6379") and not is_loopback("head.internal:6379")
    for bad in ("6379", "host:", "host:port", "ray://head:10001", "h:70000"):
        with pytest.raises(EditbenchError, match="not HOST:PORT"):
            split_address(bad)


def test_call_with_timeout_returns_raises_and_times_out():
    assert call_with_timeout(lambda: 7, timeout_s=5, what="x", hint="h") == 7
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, timeout_s=5, what="x", hint="h")
    never = threading.Event()
    with pytest.raises(EditbenchError, match="joining did not finish within 0.3 s; look there"):
        call_with_timeout(never.wait, timeout_s=0.3, what="joining", hint="look there")


# -- the CLI ------------------------------------------------------------------------------------------------

def test_wrong_address_is_one_sentence_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    p = cli("run", "--suite", "toy-5d", "--seeds", "0", "--address", f"127.0.0.1:{free_port()}",
            "--out", str(out), "--no-progress")
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2, err
    assert "no Ray cluster at 127.0.0.1:" in err and "Traceback" not in err
    assert not (out / "run.json").exists()


def test_silent_address_times_out_with_what_to_check(tmp_path, silent_server):
    p = cli("run", "--suite", "toy-5d", "--seeds", "0", "--address", silent_server, "--connect-timeout", "3",
            "--out", str(tmp_path / "out"), "--no-progress")
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2, err
    assert f"connecting to Ray at {silent_server} (up to 3 s)" in err
    assert f"connecting to Ray at {silent_server} did not finish within 3 s" in err
    assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0" in err and "Traceback" not in err


def test_ctrl_c_while_connecting(tmp_path, silent_server):
    out = tmp_path / "out"
    p = cli("run", "--suite", "toy-5d", "--seeds", "0", "--address", silent_server, "--connect-timeout", "600",
            "--out", str(out), "--no-progress")
    try:
        wait_for_line(p, "connecting to Ray at")
        time.sleep(1.0)                                   # inside ray.init's retry loop
        os.killpg(p.pid, signal.SIGINT)
        _, err = p.communicate(timeout=60)                # far below the 600 s connect limit
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == EXIT_INTERRUPTED, err
    assert f"0 of 12 rows are kept in {out}/results/" in err
    assert f"editbench run --resume --out {out}" in err


def test_ctrl_c_mid_run_keeps_rows_then_resume_alone_finishes(tmp_path):
    suite = write_suite(tmp_path / "suite.yaml", 20)
    out = tmp_path / "out"
    p = cli("run", "--suite", str(suite), "--out", str(out), "--no-progress", "--actors-per-pipeline", "1")
    try:
        wait_for_line(p, "Ray ready")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list((out / "results").glob("*.parquet"))) < 1:
            time.sleep(0.2)
        time.sleep(1.0)
        assert p.poll() is None, "the run finished before Ctrl-C"
        os.killpg(p.pid, signal.SIGINT)
        _, err = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == EXIT_INTERRUPTED, err
    kept = len(read_results(out))
    assert 1 <= kept < 20
    assert f"{kept} of 20 rows are kept in {out}/results/" in err
    assert f"finish the run with: editbench run --resume --out {out}" in err
    assert "of 20 jobs in" in err                      # the summary line, also after Ctrl-C
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "incomplete" and meta["attempts"][-1]["interrupted"] is True

    q = cli("run", "--resume", "--out", str(out), "--no-progress")    # the plan comes from run.json
    _, err = q.communicate(timeout=300)
    assert q.returncode == 0, err
    rows = read_results(out)
    assert len(rows) == 20 and not rows.duplicated(["task_id", "pipeline", "seed"]).any()
    assert f"{kept} already on disk" in err
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
