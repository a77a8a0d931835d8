"""One writer per run on an object store, under SIGSTOP/SIGCONT: a holder stopped past its lease is taken
over, and when it continues it writes nothing more (fencing), on a real S3-protocol server (moto)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pyarrow.parquet as pq

from tests.harness import test_object_storage as s3_support
from tests.harness.test_object_storage import BUCKET, ROOT, objects

HOLDER = """
import sys, time
from harness.core.storage import Location, LockLost, RunLock
loc = Location(sys.argv[1])
lock = RunLock(loc, lease_s=float(sys.argv[2])).acquire()
print("held", flush=True)
i = 0
while True:
    try:
        lock.check()                       # the fence, before every write
    except LockLost as e:
        print(e, flush=True)
        sys.exit(4)
    loc.write_bytes(b"x", "rows", f"w-{i:05d}")
    try:
        lock.check()                       # and after: a write stopped midway may have landed late
    except LockLost as e:
        loc.delete("rows", f"w-{i:05d}")
        print(e, flush=True)
        sys.exit(4)
    i += 1
    time.sleep(0.05)
"""

s3, s3_env = s3_support.s3, s3_support.s3_env   # the moto server fixtures


def _wait(pred, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_stopped_holder_taken_over_writes_nothing_after_it_continues(s3_env):
    from harness.core.storage import Location, RunLock, read_lock

    env, client = s3_env
    uri = f"s3://{BUCKET}/fence-unit"
    child = subprocess.Popen([sys.executable, "-c", HOLDER, uri, "2"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline().strip() == "held"
        _wait(lambda: len(objects(client, "fence-unit/rows")) >= 3)
        os.kill(child.pid, signal.SIGSTOP)
        time.sleep(3.0)                                      # past the 2 s lease
        before = set(objects(client, "fence-unit/rows"))
        taker = RunLock(Location(uri), lease_s=30).acquire()  # the lease ran out: taken over
        assert read_lock(uri).pid == os.getpid()
        os.kill(child.pid, signal.SIGCONT)
        assert child.wait(timeout=30) == 4
        assert "no longer holds the run lock" in child.stdout.read()
        assert set(objects(client, "fence-unit/rows")) <= before   # not one write after the takeover (a shard it
        # wrote across the lost lease may be withdrawn)
        assert read_lock(uri).token == taker._holder.token         # and our lock left alone
        taker.release()
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGCONT)
            child.kill()
            child.wait()


def _suite(path, n: int):
    path.write_text("name: fence\nversion: '1'\npipelines: [{name: synthetic, options: {sleep_ms: 1000}}]\n"
                    "seeds: [0]\nscorers: [latency]\ntasks:\n"
                    + "".join(f"  - {{task_id: t{i:02d}, kind: toy, meta: {{mask_fraction: 0.2}}}}\n" for i in range(n)))
    return path


def test_sigstop_driver_resume_elsewhere_sigcont_gives_one_row_per_key(s3_env, tmp_path):
    """The driver of an s3:// run is stopped past its lease, a second driver resumes the run, the first
    continues: the first stops writing (exit 4), the second completes; every key has exactly one row."""
    env, client = s3_env
    uri = f"s3://{BUCKET}/fence-run"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"suite: {_suite(tmp_path / 'suite.yaml', 20)}\nlock_lease_s: 10\nflush_every: 1\n"
                    "actors_per_pipeline: 1\n")
    cmd = [sys.executable, "-m", "harness.cli", "run", str(spec), "--out", uri, "--no-progress"]
    full_env = {**os.environ, **env}
    first = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def started() -> bool:
            assert first.poll() is None, first.communicate()[1][-3000:]
            return sum(k.startswith("results/") for k in objects(client, "fence-run")) >= 2

        _wait(started, timeout=180)
        os.kill(first.pid, signal.SIGSTOP)
        time.sleep(13)                                        # the 10 s lease runs out
        second = subprocess.Popen([*cmd, "--resume"], cwd=ROOT, env=full_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        lock_of = lambda: json.loads(objects(client, "fence-run").get(".editbench.lock", b"{}") or b"{}")  # noqa: E731
        _wait(lambda: lock_of().get("pid") == second.pid, timeout=180)
        os.kill(first.pid, signal.SIGCONT)                    # continues while the second one writes
        _, err1 = first.communicate(timeout=300)
        _, err2 = second.communicate(timeout=300)
    finally:
        for p in (first,):
            if p.poll() is None:
                os.kill(p.pid, signal.SIGCONT)
                p.kill()
    assert second.returncode == 0, err2
    assert first.returncode == 4 and "no longer holds the run lock" in err1, (first.returncode, err1[-2000:])
    stored = objects(client, "fence-run")
    frames = [pq.read_table(pa_buffer(v)).to_pandas() for k, v in stored.items()
              if k.startswith("results/") and k.endswith(".parquet")]
    rows = pd.concat(frames)
    counts = rows.groupby(["task_id", "pipeline", "seed"]).size()
    assert len(counts) == 20 and (counts == 1).all(), counts[counts != 1]
    meta = json.loads(stored["run.json"])
    assert meta["status"] == "complete" and meta["attempts"][-1]["pid"] == second.pid


def pa_buffer(data: bytes):
    import pyarrow as pa

    return pa.BufferReader(data)

