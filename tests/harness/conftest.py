"""Fixtures of the harness tests: a loopback chat-completions judge (tests/scorers/judge_server.py)."""

from __future__ import annotations

import os

import pytest

from tests.harness.rescore_helpers import KEY_ENV
from tests.scorers.judge_server import JudgeServer


@pytest.fixture(scope="module")
def judge_server():
    """A loopback chat-completions server that takes the rescore tests' key."""
    server = JudgeServer(os.environ[KEY_ENV]).start()
    yield server
    server.stop()
