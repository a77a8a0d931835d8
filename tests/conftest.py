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
    from harness.runner import init_ray

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
        from harness import runner

        def refuse(*a, **k):
            pytest.fail("this test starts a Ray: mark it @pytest.mark.ray (make test-fast leaves those out)")

        monkeypatch.setattr(runner, "init_ray", refuse)
    yield
