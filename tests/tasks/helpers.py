"""Helpers shared by the tasks tests: tiny image folders and suite files written in tmp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def bundled_photo(name: str) -> Path:
    """Path of a photo shipped in an installed package: insightface's t1.jpg / Tom_Hanks_54745.png,
    scikit-image's astronaut.png."""
    from tasks.schema import resolve_data_root

    root = "pkg:skimage/data" if name == "astronaut.png" else "pkg:insightface/data/images"
    return resolve_data_root(root, Path.cwd()) / name
