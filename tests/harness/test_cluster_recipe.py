"""docs/cluster.md's multi-node recipe, as written: `editbench cluster` starts two Ray nodes on 127.0.0.1, a
driver in a fresh shell (no RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER) joins it with --address, and SIGTERM stops
exactly those nodes."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
import yaml

from harness.contract.results import read_results
from tests.harness.test_interrupt import cli, free_port, wait_for_line

pytestmark = pytest.mark.ray


def test_loopback_cluster_recipe(tmp_path: Path):
    tasks = [{"task_id": f"t{i}", "kind": "toy", "meta": {"mask_fraction": 0.2}} for i in range(4)]
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"name": "c", "version": "1", "seeds": [0], "scorers": ["latency"],
                                     "pipelines": ["synthetic", {"name": "synthetic", "label": "synthetic-b"}],
                                     "tasks": tasks}))
    port = free_port()
    head = cli("cluster", "--nodes", "2", "--num-cpus", "1", "--port", str(port))
    try:
        wait_for_line(head, f"--address 127.0.0.1:{port}")
        run = cli("run", "--suite", str(suite), "--address", f"127.0.0.1:{port}", "--out", str(tmp_path / "out"),
                  "--no-progress", "--actors-per-pipeline", "1")
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert f"connecting to Ray at 127.0.0.1:{port}" in err and "Ray ready: 2 CPUs" in err
        rows = read_results(tmp_path / "out")
        assert len(rows) == 8 and (rows["status"] == "ok").all()
        head.send_signal(signal.SIGTERM)
        _, err = head.communicate(timeout=120)
        assert head.returncode == 0, err
        assert "Ray cluster stopped" in err
    finally:
        if head.poll() is None:
            os.killpg(head.pid, signal.SIGKILL)
    with socket.socket() as s:   # the head's port is free again: its GCS is gone
        assert s.connect_ex(("127.0.0.1", port)) != 0
