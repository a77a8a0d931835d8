"""Shared fixtures: an isolated cache for the toy model, and one Ray instance per test session."""

from __future__ import annotations

import os

import pytest


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
