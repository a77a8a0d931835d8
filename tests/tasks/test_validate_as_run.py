"""`suite validate` makes the checks `run` makes before any work: overrides against the suite's pipelines
(or --pipelines), and weights (unless --no-weights)."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from harness.cli import app


def write(tmp_path, pipelines):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"name": "s", "version": "1", "data_root": "pkg:skimage/data", "seeds": [0],
                                 "pipelines": pipelines, "scorers": ["latency"], "tasks": [
                                     {"task_id": "a", "kind": "outpaint", "image": "astronaut.png",
                                      "overrides": {"outpaint": {"left": 8, "right": 8, "top": 0, "bottom": 0},
                                                    "steps": 5}}]}))
    return p


def test_validate_refuses_what_run_refuses(tmp_path):
    suite = write(tmp_path, ["cv2-telea"])
    v = CliRunner().invoke(app, ["suite", "validate", str(suite)])
    assert v.exit_code == 2
    assert "override 'steps' cannot be honoured by pipeline cv2-telea" in v.output
    r = CliRunner().invoke(app, ["run", "--suite", str(suite), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "override 'steps' cannot be honoured by pipeline cv2-telea" in r.output


def test_validate_against_other_pipelines_and_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path / "none"))
    suite = write(tmp_path, ["cv2-telea"])
    ok = CliRunner().invoke(app, ["suite", "validate", str(suite), "--pipelines", "sd-inpaint", "--no-weights"])
    assert ok.exit_code == 0, ok.output
    assert "no problems for pipelines sd-inpaint and scorers latency (weights not checked)" in ok.output
    w = CliRunner().invoke(app, ["suite", "validate", str(suite), "--pipelines", "sd-inpaint"])
    assert w.exit_code == 2 and "needed by pipeline sd-inpaint (nothing was run)" in w.output
