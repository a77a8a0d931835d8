"""Runs written straight to an object store: a real S3-protocol server (moto's server mode) on loopback.

The driver runs as `editbench` subprocesses whose environment carries the endpoint and test keys, so the
local Ray they start (and its actors) resolve s3:// with their own environment, as a cluster node would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.ray   # every test here starts a Ray

moto_server = pytest.importorskip("moto.server", reason="needs moto[server] (test extra)")
boto3 = pytest.importorskip("boto3")

ROOT = Path(__file__).resolve().parents[2]
SECRET = "editbench-test-secret-key-0123456789"
BUCKET = "editbench-runs"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A loopback S3 server with one bucket; yields the environment a process needs to reach it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "editbench-test",
           "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=SECRET, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield env, client
    server.stop()


@pytest.fixture
def s3_env(s3, monkeypatch):
    env, client = s3
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env, client


def editbench(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def objects(client, prefix: str) -> dict[str, bytes]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/")]
    found = {}
    for k in keys:
        try:
            found[k[len(prefix) + 1:]] = client.get_object(Bucket=BUCKET, Key=k)["Body"].read()
        except client.exceptions.NoSuchKey:   # deleted since the listing (a write probe)
            pass
    return found


def test_location_writes_lists_and_locks(s3_env):
    from harness.core.storage import LOCK_NAME, Location, RunLock, RunLocked, read_lock

    loc = Location(f"s3://{BUCKET}/unit")
    loc.write_bytes(b"abc", "results", "part-1.parquet")
    assert loc.list("results") == ["part-1.parquet"] and loc.read_bytes("results/part-1.parquet") == b"abc"
    assert loc.exists("results", "part-1.parquet") and not loc.exists("run.json")
    with pytest.raises(Exception, match="escapes"):
        loc.key("..", "other")
    lock = RunLock(loc, lease_s=60).acquire()
    holder = read_lock(loc)
    assert holder.pid == os.getpid() and holder.expires > time.time()
    with pytest.raises(RunLocked, match="being written by another editbench process"):
        RunLock(loc).acquire()
    lock.release()
    assert not loc.exists(LOCK_NAME)
    # an expired lease is taken over
    expired = RunLock(loc, lease_s=-1.0)
    assert expired._create()
    RunLock(loc, lease_s=60).acquire().release()


def test_a_held_lease_is_renewed_and_a_taken_over_one_is_left_alone(s3_env):
    from harness.core.storage import Location, RunLock, RunLocked, read_lock

    loc = Location(f"s3://{BUCKET}/lease")
    lock = RunLock(loc, lease_s=0.6).acquire()    # renewed every 0.2 s
    first = read_lock(loc).expires
    deadline = time.monotonic() + 30
    while ((h := read_lock(loc)) is None or h.expires == first) and time.monotonic() < deadline:
        time.sleep(0.05)           # (a read that meets the renewal's write in flight is retried)
    assert read_lock(loc).expires > first and not read_lock(loc).is_dead()
    with pytest.raises(RunLocked):
        RunLock(loc).acquire()
    # someone else holds it now (as after a takeover): the old holder's renewal stops touching it
    other = json.dumps({"pid": 1, "host": "elsewhere", "since": "2026-01-01T00:00:00Z", "command": "editbench run",
                        "expires": time.time() + 3600}).encode()
    loc.write_bytes(other, ".editbench.lock")
    lock._renewer.join(timeout=30)
    assert not lock._renewer.is_alive() and read_lock(loc).host == "elsewhere"
    lock.release()                                # not ours: left in place
    assert read_lock(loc).host == "elsewhere"


def test_report_of_a_missing_run_names_the_uri(s3_env):
    env, _ = s3_env
    res = editbench(env, "report", f"s3://{BUCKET}/nothing-here", timeout=120)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert f"s3://{BUCKET}/nothing-here" in lines[0] and "editbench-stage" not in lines[0]


def test_toy_run_resume_report_and_gate_through_s3(s3_env, tmp_path):
    env, client = s3_env
    uri = f"s3://{BUCKET}/toy"
    res = editbench(env, "run", "--suite", "toy-5d", "--seeds", "0", "--out", uri, "--no-progress")
    assert res.returncode == 0, res.stderr
    stored = objects(client, "toy")
    meta = json.loads(stored["run.json"])
    assert meta["status"] == "complete" and meta["jobs"]["done"] == len(meta["jobs"]["planned"]) > 0
    from harness.contract.results import read_results

    df = read_results(uri)
    assert len(df) == len(meta["jobs"]["planned"]) and (df["status"] == "ok").all()
    # every output was written by an actor straight to the bucket, under the row's output_path
    assert all(p in stored and len(stored[p]) > 0 for p in df["output_path"])
    assert "leaderboard.md" in stored and not any(k.startswith(".") for k in stored)   # no lock left behind
    # the credentials are nowhere in what the run wrote
    assert not [k for k, v in stored.items() if SECRET.encode() in v]

    # a second run into the same location is refused; --resume has nothing left to do
    res = editbench(env, "run", "--suite", "toy-5d", "--seeds", "0", "--out", uri, "--no-progress")
    assert res.returncode == 2 and "--resume" in res.stderr
    res = editbench(env, "run", "--suite", "toy-5d", "--seeds", "0", "--out", uri, "--no-progress", "--resume")
    assert res.returncode == 0, res.stderr
    assert len(read_results(uri)) == len(df)

    client.delete_object(Bucket=BUCKET, Key="toy/leaderboard.md")
    res = editbench(env, "report", uri)
    assert res.returncode == 0, res.stderr
    assert b"toy" in objects(client, "toy")["leaderboard.md"]

    res = editbench(env, "gate", uri, uri)
    assert res.returncode == 0, res.stdout + res.stderr
    gate = json.loads(objects(client, "toy")["gate.json"])
    assert gate["baseline"] == uri and gate["error"] is None

    res = editbench(env, "report", "--history", f"s3://{BUCKET}")
    assert res.returncode == 0, res.stderr


def test_driver_killed_then_resumed_through_s3(s3_env, tmp_path):
    env, client = s3_env
    uri = f"s3://{BUCKET}/killed"
    tasks = [{"task_id": f"t{i:02d}", "kind": "toy", "meta": {"mask_fraction": 0.2}} for i in range(16)]
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"name": "s3-faults", "version": "1", "pipelines": ["synthetic"], "seeds": [0],
                                     "scorers": ["latency"], "tasks": tasks}))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"suite": str(suite), "actors_per_pipeline": 1, "flush_every": 2,
                                    "pipelines": [{"name": "synthetic", "options": {"sleep_ms": 300}}]}))
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(spec), "--out", uri, "--no-progress"],
                            cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from harness.contract.results import read_results

    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and sum(k.startswith("results/") for k in objects(client, "killed")) < 2:
            time.sleep(0.3)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    before = read_results(uri)
    assert 2 <= len(before) < 16
    # the killed driver's lock is still there; its lease has not run out, so a resume waits for it
    res = editbench(env, "run", str(spec), "--out", uri, "--no-progress", "--resume")
    assert res.returncode == 2 and "being written by another editbench process" in res.stderr
    client.delete_object(Bucket=BUCKET, Key="killed/.editbench.lock")   # as an expired lease would be
    # a leftover of an interrupted write is ignored
    client.put_object(Bucket=BUCKET, Key="killed/results/.part-partial.parquet.tmp", Body=b"PAR1 broken")
    res = editbench(env, "run", str(spec), "--out", uri, "--no-progress", "--resume")
    assert res.returncode == 0, res.stderr
    after = read_results(uri)
    assert len(after) == 16 and not after.duplicated(["task_id", "pipeline", "seed"]).any()
    merged = before.merge(after, on=["task_id", "pipeline", "seed"], suffixes=("_b", "_a"))
    assert (merged["run_id_b"] == merged["run_id_a"]).all() and (merged["latency_ms_b"] == merged["latency_ms_a"]).all()
    meta = json.loads(objects(client, "killed")["run.json"])
    assert meta["status"] == "complete" and len(meta["attempts"]) == 2


def test_two_node_cluster_writes_every_output_to_s3(s3_env):
    """Two Ray nodes on this machine (ray.cluster_utils.Cluster, which cleans up after itself); each node's
    processes reach the bucket with their own environment, nothing is shipped through runtime_env."""
    env, client = s3_env
    uri = f"s3://{BUCKET}/two-node"
    res = subprocess.run([sys.executable, str(ROOT / "tests" / "harness" / "two_node_run.py"), uri], cwd=ROOT,
                         env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "NODES 2" in res.stdout
    from harness.contract.results import read_results

    df = read_results(uri)
    stored = objects(client, "two-node")
    assert len(df) == 2 * 4 and (df["status"] == "ok").all()
    assert all(p in stored and len(stored[p]) > 0 for p in df["output_path"])
    assert df["node"].nunique() == 2            # the two pipelines' actors ran on different nodes
    meta = json.loads(stored["run.json"])
    assert meta["status"] == "complete" and SECRET not in json.dumps(meta)
    assert "leaderboard.md" in stored


def test_smoke_suite_through_s3_writes_decodable_pngs(s3_env):
    import io

    from PIL import Image

    env, client = s3_env
    uri = f"s3://{BUCKET}/smoke"
    res = editbench(env, "run", "--suite", "smoke-removal", "--limit", "1", "--out", uri, "--no-progress")
    assert res.returncode == 0, res.stderr
    from harness.contract.results import read_results

    df = read_results(uri)
    stored = objects(client, "smoke")
    assert len(df) == 3 and (df["status"] == "ok").all() and df["texture.score"].notna().all()
    for p in df["output_path"]:
        assert p.endswith(".png") and Image.open(io.BytesIO(stored[p])).size == (512, 512)
