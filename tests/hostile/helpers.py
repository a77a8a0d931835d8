"""Helpers of the hostile-input tests: tiny suites and run directories written in tmp."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]


def editbench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env=env)


def assert_one_sentence(res: subprocess.CompletedProcess, *needles: str, code: int = 2) -> str:
    assert res.returncode == code, (res.returncode, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip() and not line.startswith("editbench: warning")]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("editbench: error: ") and "Traceback" not in res.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def toy_suite(path: Path, task_ids: list[str], **fields) -> Path:
    """A toy suite file (no images) with one task per id."""
    tasks = [{"task_id": t, "kind": "toy", "params": {"mask_fraction": 0.2, "n_samples": 50, "data_seed": 0}}
             for t in task_ids]
    doc = {"name": "hostile", "version": "1", "pipelines": ["toy-naive"], "seeds": [0], "scorers": ["latency"],
           **fields, "tasks": tasks}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def fake_run(out: Path, rows: list[dict], *, status: str = "complete", shards: int = 1) -> Path:
    """A run directory with run.json and ``rows`` split over ``shards`` Parquet shards."""
    from harness.contract.results import write_shard

    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps({"run_id": "r1", "suite": {"name": "s", "hash": "h"}, "status": status,
                                              "seeds": [0], "scorers": ["m"], "start_time": "2026-01-01T00:00:00"}))
    for i in range(shards):
        write_shard(out, rows[i::shards])
    return out


def row(task_id: str = "a", pipeline: str = "p", seed: int = 0, **extra) -> dict:
    return {"run_id": "r1", "suite": "s", "task_id": task_id, "kind": "toy", "pipeline": pipeline, "seed": seed,
            "status": "ok", "error": None, "weights": "random", "output_path": None, "latency_ms": 1.0,
            "warmup": False, **extra}


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows)
