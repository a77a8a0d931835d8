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


# Fixtures that start a Ray (directly or through runner.run): a test using one is marked `ray`.
RAY_FIXTURES = frozenset({"ray_session", "toy_runs", "runs", "faulty_run"})


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses a Ray fixture `ray`, and put all `ray` tests in one xdist group: with
    `pytest -n 2 --dist loadgroup` (make test) they run on one worker, one after another, so at most one
    Ray of the suite runs at a time and they share that worker's ray_session."""
    for item in items:
        if RAY_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.ray)
        if item.get_closest_marker("ray") is not None:
            item.add_marker(pytest.mark.xdist_group("ray"))


def pytest_addoption(parser):
    parser.addoption("--fast", action="store_true",
                     help="the fast loop (make test-fast): leave out `ray` and `slow` tests, and fail any other test "
                          "that starts a Ray in this process (it must be marked `ray`)")


def pytest_configure(config):
    if config.getoption("--fast"):
        config.option.markexpr = "not ray and not slow"


@pytest.fixture(autouse=True)
def _no_ray_in_fast_loop(request, monkeypatch):
    if request.config.getoption("--fast"):
        from harness.execution import runner

        def refuse(*a, **k):
            pytest.fail("this test starts a Ray: mark it @pytest.mark.ray (make test-fast leaves those out)")

        monkeypatch.setattr(runner, "init_ray", refuse)
    yield
