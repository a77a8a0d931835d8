"""Shared toy runs for the report tests: three Ray runs of toy-5d, made once per session.

- ``base``: toy-naive + toy-repaint, both with a 50-step respaced schedule (5x cheaper than the full
  250 steps), seeds 0, 1 (the baseline every test reuses)
- ``aa``: the same pipelines with seeds 2, 3 (an A/A candidate)
- ``degraded``: toy-repaint with 5 sampling steps instead of 50, seeds 0..15; it is the
  degraded candidate (paired with ``base`` on seeds 0, 1) and, being cheap, the source of the
  resampled-seed A/A simulations.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def toy_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDITBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        from harness.contract.spec import PipelineSpec, RunSpec
        from harness.execution.runner import PROJECT_ROOT, init_ray
        from harness.workflow import run

        good = [PipelineSpec(name=n, options={"steps": 50}) for n in ("toy-naive", "toy-repaint")]
        # One private local Ray for the three runs: init_ray(None) starts it with address="local" (never
        # joining a cluster another process registered on this machine) and on loopback only.
        mp.delenv("RAY_ADDRESS", raising=False)
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        mp.setenv("PYTHONPATH", os.pathsep.join([str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        ray, started = init_ray(None)   # loopback only (harness.execution.ray_local); ray imported after the variable
        try:
            run(RunSpec(suite="toy-5d", pipelines=good, seeds=[0, 1]), out=root / "base", progress=False)
            run(RunSpec(suite="toy-5d", pipelines=good, seeds=[2, 3]), out=root / "aa", progress=False)
            run(RunSpec(suite="toy-5d", pipelines=[PipelineSpec(name="toy-repaint", options={"steps": 5})],
                        seeds=list(range(16))), out=root / "degraded", progress=False)
        finally:
            if started:
                ray.shutdown()
    assert os.path.isdir(root / "base" / "results")
    return {"root": root, "base": root / "base", "aa": root / "aa", "degraded": root / "degraded"}
