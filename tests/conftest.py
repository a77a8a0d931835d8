"""Shared fixtures: an isolated cache for the toy model, and one Ray instance per test session.

The example plugin (tests/plugin_example: one pipeline, one scorer, registered through entry points) is
on the path of this process and of every process it starts (CLI subprocesses, Ray workers), as if it were
installed: the contract tests over every registered pipeline and scorer run over it too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

PLUGIN_PATH = str(Path(__file__).resolve().parent / "plugin_example")
if PLUGIN_PATH not in sys.path:
    sys.path.insert(0, PLUGIN_PATH)
    os.environ["PYTHONPATH"] = os.pathsep.join([PLUGIN_PATH, *filter(None, [os.environ.get("PYTHONPATH")])])


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Toy models train into a per-session cache (once, ~12 s), never into the user's ~/.cache."""
    cache = tmp_path_factory.mktemp("editbench-cache")
    old = os.environ.get("EDITBENCH_CACHE")
    os.environ["EDITBENCH_CACHE"] = str(cache)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    yield cache
    if old is None:
        os.environ.pop("EDITBENCH_CACHE", None)
    else:
        os.environ["EDITBENCH_CACHE"] = old


@pytest.fixture(scope="session")
def ray_session(_isolated_cache):
    """A local Ray shared by the tests that need one (the runner reuses an initialised Ray)."""
    from harness.execution.runner import init_ray

    ray, started = init_ray(None)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def toy_model(_isolated_cache):
    from harness.toy.ddpm import Schedule, ToyConfig, load_or_train

    config = ToyConfig()
    return load_or_train(config), Schedule.linear(config)
