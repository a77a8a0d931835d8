"""The gate names the runs, says what changed between their configurations, puts a one-paragraph
summary on top of gate.md and prints a short verdict (the full table only in the files). No Ray."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from harness.cli import app
from reports.config_diff import config_diff, run_title
from tests.reports.helpers import clone_run, image_run

PIPES = [{"name": "patchmatch", "label": "good", "options": {"resolution": 128, "patch": 7}, "weights": None},
         {"name": "cv2-telea", "label": "fast", "options": {}, "weights": None}]


def test_config_diff_lines():
    base = {"run_id": "r1", "name": "nightly", "tags": {"lora": "v3"}, "suite": {"hash": "a" * 64},
            "pipelines": PIPES, "seeds": [0], "scorers": ["seam"], "packages": {"torch": "2.1"}}
    cand = {**base, "run_id": "r2", "tags": {"lora": "v4", "gpu": "h100"}, "suite": {"hash": "b" * 64},
            "pipelines": [{**PIPES[0], "options": {"resolution": 96, "patch": 7}, "weights": "/w/pm"},
                          {"name": "cv2-ns", "label": "ns", "options": {}}],
            "packages": {"torch": "2.2"}}
    assert config_diff(base, cand) == [
        "tag gpu None → 'h100'", "tag lora 'v3' → 'v4'", "suite content hash aaaaaaaaaaaa → bbbbbbbbbbbb",
        "pipeline fast only in the baseline", "pipeline ns only in the candidate",
        "pipeline good: option resolution 128 → 96", "pipeline good: weights None → '/w/pm'",
        "package torch '2.1' → '2.2'"]
    assert config_diff(base, base) == []
    assert run_title(cand) == "nightly (lora=v4, gpu=h100) · r2"
    assert run_title({"run_id": "x"}) == "x"


def test_gate_names_runs_and_changes_and_prints_short(tmp_path):
    base = clone_run(image_run(tmp_path / "b0"), tmp_path / "base",
                     meta_update={"name": "nightly", "tags": {"lora": "v3"}, "pipelines": PIPES})
    worse = lambda df: df.assign(**{"toy.masked_residual": df["toy.masked_residual"] + 0.5})  # noqa: E731
    cand = clone_run(base, tmp_path / "cand", transform=worse,
                     meta_update={"tags": {"lora": "v4"},
                                  "pipelines": [{**PIPES[0], "options": {"resolution": 96, "patch": 7}}, PIPES[1]]})
    r = CliRunner().invoke(app, ["gate", str(base), str(cand), "--out", str(tmp_path / "g")])
    assert r.exit_code == 1, r.output
    assert r.stdout.startswith("Gate FAIL: candidate nightly (lora=v4) · run-run against baseline nightly (lora=v3)")
    assert "Changed: tag lora 'v3' → 'v4'; pipeline good: option resolution 128 → 96." in r.stdout
    assert "| pipeline" not in r.stdout and f"full table: {tmp_path / 'g'}/gate.md" in r.stdout
    md = (tmp_path / "g" / "gate.md").read_text()
    assert md.splitlines()[2].startswith("Gate FAIL: candidate nightly (lora=v4)")
    assert "## What changed between the runs" in md and "- pipeline good: option resolution 128 → 96" in md
    assert "| pipeline (baseline → candidate) |" in md            # the full table stays in the file
    res = json.loads((tmp_path / "g" / "gate.json").read_text())
    assert res["changes"] == ["tag lora 'v3' → 'v4'", "pipeline good: option resolution 128 → 96"]
    assert res["runs"]["baseline"] == "nightly (lora=v3) · run-run"
