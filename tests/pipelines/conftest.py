"""Session fixtures: tiny random-weight diffusers pipelines (built once) and a small test image."""

from __future__ import annotations

import os
import secrets

import numpy as np
import pytest

from tests.tiny_models import build_all

# The hosted tests' API key. Set at collection, before any test starts Ray, so that Ray's worker
# processes inherit it like they inherit a user's OPENAI_API_KEY (tests/pipelines/test_hosted.py).
HOSTED_KEY_ENV = "EDITBENCH_TEST_HOSTED_KEY"
os.environ.setdefault(HOSTED_KEY_ENV, f"sk-editbench-test-{secrets.token_hex(16)}")


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> dict:
    """{pipeline name: tiny diffusers folder} for every diffusers adapter."""
    return build_all(tmp_path_factory.mktemp("tiny-weights"))


@pytest.fixture(scope="session")
def image_file(tmp_path_factory):
    """A 64x48 crop of skimage's astronaut (non-square on purpose: the adapters resize and back)."""
    from PIL import Image
    from skimage import data

    img = np.ascontiguousarray(data.astronaut()[::8, ::8][:48, :64])
    path = tmp_path_factory.mktemp("img") / "astronaut-64x48.png"
    Image.fromarray(img).save(path)
    return path


@pytest.fixture(scope="session")
def hosted_server():
    """A loopback images-edit server (tests/pipelines/hosted_server.py) that takes the hosted test key."""
    from tests.pipelines.hosted_server import EditServer

    server = EditServer(os.environ[HOSTED_KEY_ENV]).start()
    yield server
    server.stop()
