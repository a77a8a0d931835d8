"""Helpers for the tasks tests: tiny image folders and suite files written in tmp."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image


def write_png(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def write_suite(path: Path, tasks: list[dict], **fields) -> Path:
    doc = {"name": "t", "version": "1", "data_root": ".", "pipelines": ["p"], **fields, "tasks": tasks}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


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


def bundled_photo(name: str) -> Path:
    """Path of a photo shipped in an installed package: insightface's t1.jpg / Tom_Hanks_54745.png,
    scikit-image's astronaut.png."""
    from tasks.schema import resolve_data_root

    root = "pkg:skimage/data" if name == "astronaut.png" else "pkg:insightface/data/images"
    return resolve_data_root(root, Path.cwd()) / name


@pytest.fixture
def portraits(tmp_path_factory) -> Path:
    """A folder holding copies of the bundled portraits / group photo."""
    d = tmp_path_factory.mktemp("portraits")
    for n in ("t1.jpg", "Tom_Hanks_54745.png", "astronaut.png"):
        shutil.copy(bundled_photo(n), d / n)
    return d
