"""Pipelines and scorers from installed distributions (entry points): the example plugin in
tests/plugin_example, put on the path by tests/conftest.py as an installed package would be."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from PIL import Image

from harness.core.registry import Registry
from harness.inventory import describe
from harness.pipelines.base import PIPELINES
from scorers.base import SCORERS

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "editbench-example-plugin"


def test_plugin_entries_are_listed_with_their_distribution():
    assert PIPELINES.origin("mean-fill") == PLUGIN and SCORERS.origin("brightness") == PLUGIN
    assert PIPELINES.origin("cv2-telea") == "built-in"
    assert PIPELINES["mean-fill"].name == "mean-fill" and SCORERS["brightness"].name == "brightness"
    pipelines = {line.split()[0]: line for line in describe("pipelines").splitlines()}
    assert f"(plugin {PLUGIN})" in pipelines["mean-fill"] and "plugin" not in pipelines["cv2-telea"]
    assert f"(plugin {PLUGIN})" in {ln.split()[0]: ln for ln in describe("scorers").splitlines()}["brightness"]


def write_dist(root: Path, name: str, entry_points: str) -> Path:
    d = root / f"{name}-1.0.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (d / "entry_points.txt").write_text(entry_points)
    return root


def test_a_plugin_name_that_clashes_with_a_built_in_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(write_dist(tmp_path, "clashing-plugin",
                                               "[editbench.test]\ncv2-telea = somewhere:Else\nfresh = somewhere:New\n"
                                               "bad = no_colon\n")))
    reg = Registry("pipeline", {"cv2-telea": "harness.pipelines.opencv:Cv2Telea"}, group="editbench.test")
    assert reg.names() == ["cv2-telea", "fresh"]
    assert reg.target("cv2-telea") == "harness.pipelines.opencv:Cv2Telea"     # the built-in stays
    assert reg.origin("fresh") == "clashing-plugin"
    err = capsys.readouterr().err
    assert "'cv2-telea' of plugin clashing-plugin is refused: the name is a built-in pipeline" in err
    assert "'bad' of plugin clashing-plugin is refused" in err


def test_a_plugin_pipeline_and_scorer_run_through_ray(tmp_path):
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :32] = (200, 40, 40)
    Image.fromarray(img).save(tmp_path / "a.png")
    suite = {"name": "plugin-smoke", "version": "1", "data_root": ".", "pipelines": ["mean-fill", "cv2-telea"],
             "seeds": [0], "scorers": ["brightness", "seam"],
             "tasks": [{"task_id": "a", "kind": "inpaint", "image": "a.png", "mask": {"box": [24, 10, 40, 30]}}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--suite", str(tmp_path / "suite.yaml"),
                           "--out", str(out), "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = pd.concat([pd.read_parquet(p) for p in (out / "results").glob("*.parquet")])
    fill = rows[rows["pipeline"] == "mean-fill"].iloc[0]
    assert fill["status"] == "ok" and 0.0 < fill["brightness.mean"] < 1.0 and np.isfinite(fill["seam.score"])
    edited = np.asarray(Image.open(out / fill["output_path"]))
    assert (edited[10:30, 24:40] == edited[20, 30]).all()       # one flat colour inside the mask
    np.testing.assert_array_equal(edited[:, :20], img[:, :20])  # the kept region untouched
