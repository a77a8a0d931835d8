"""Helpers shared by the benchmarks: a synthetic suite and timed harness runs."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml


def synthetic_suite(n: int, directory: Path | None = None) -> Path:
    """A suite of ``n`` weightless tasks for the ``synthetic`` pipeline."""
    directory = directory or Path(tempfile.mkdtemp(prefix="editbench-bench-"))
    tasks = [{"task_id": f"t{i:04d}", "kind": "toy", "meta": {"mask_fraction": 0.2}} for i in range(n)]
    path = directory / "synthetic.yaml"
    path.write_text(yaml.safe_dump({"name": "synthetic", "version": "1", "pipelines": ["synthetic"],
                                    "seeds": [0], "scorers": ["latency"], "tasks": tasks}))
    return path


def harness_run(suite: Path, options: dict, **spec_fields) -> dict:
    """Run the suite through the harness; returns the attempt record (dispatch_s = first submit after
    all actors loaded .. last row, i.e. without Ray start-up and pipeline loading)."""
    from harness.contract.spec import RunSpec
    from harness.workflow import run

    out = Path(tempfile.mkdtemp(prefix="editbench-bench-out-"))
    spec = RunSpec(suite=str(suite), pipelines=[{"name": "synthetic", "options": options}], **spec_fields)
    run(spec, out=out / "run", progress=False)
    return json.loads((out / "run" / "run.json").read_text())["attempts"][-1]
