"""Fixtures of the tasks tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.tasks.helpers import write_png


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """tmp folder with img.png (48x64 RGB), mask.png (binary, 48x64) and small.png (a 32x32 mask)."""
    rng = np.random.default_rng(0)
    write_png(tmp_path / "img.png", rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    m = np.zeros((48, 64), np.uint8)
    m[10:30, 20:40] = 255
    write_png(tmp_path / "mask.png", m)
    write_png(tmp_path / "small.png", np.full((32, 32), 255, np.uint8))
    return tmp_path
