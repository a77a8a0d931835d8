"""Gate outcomes are total: real runs of the classical and synthetic pipelines give exit 0, 1 or 2,
always with gate.md, gate.json and gate-junit.xml; and the family-wise settings of gates.yaml."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from reports.gate import GateConfig, compare
from tests.reports.helpers import clone_run

SUITE = "smoke-removal"          # 4 inpaint tasks, one seed
TASK_IDS = ["astronaut-box0", "astronaut-box1", "coffee-box0", "rocket-box0"]
# Latency is wall-clock on a shared machine: advisory here, so the verdicts test the quality metrics.
CONFIG = "metrics:\n  'latency.*': {ignore: true}\n"


@pytest.fixture(scope="module")
def runs(ray_session, tmp_path_factory):
    from harness.contract.spec import PipelineSpec, RunSpec
    from harness.workflow import run

    root = tmp_path_factory.mktemp("gate-runs")
    classical = [PipelineSpec(name="cv2-telea"), PipelineSpec(name="cv2-ns")]
    # synthetic pipelines standing in for the two classical ones, raising on every task
    broken = [PipelineSpec(name="synthetic", label=p.key, options={"fail_on": TASK_IDS}) for p in classical]
    specs = {
        "base": RunSpec(suite=SUITE, pipelines=classical),
        "same": RunSpec(suite=SUITE, pipelines=classical),
        "failed": RunSpec(suite=SUITE, pipelines=broken),
        "one_pipeline": RunSpec(suite=SUITE, pipelines=classical[:1]),
        "limited": RunSpec(suite=SUITE, pipelines=classical, limit=1),
    }
    for name, spec in specs.items():
        run(spec, out=root / name, progress=False)
    (root / "gates.yaml").write_text(CONFIG)
    return root


def gate_cli(runs, cand, *args):
    out = runs / f"gate-{cand}-{len(args)}"
    r = CliRunner().invoke(app, ["gate", str(runs / "base"), str(runs / cand), "--config", str(runs / "gates.yaml"),
                                 "--out", str(out), *map(str, args)])
    files = {n: (out / n) for n in ("gate.md", "gate.json", "gate-junit.xml")}
    assert all(f.is_file() for f in files.values()), (r.stdout, r.stderr)
    res = json.loads(files["gate.json"].read_text())
    junit = ET.parse(files["gate-junit.xml"]).getroot().find("testsuite")
    assert res["exit_code"] == r.exit_code
    return r.exit_code, r.stderr, res, junit, files["gate.md"].read_text()


def test_identical_classical_runs_pass(runs):
    code, err, res, junit, md = gate_cli(runs, "same")
    assert code == 0, err
    assert res["verdict"] == "pass" and md.startswith("# Gate: PASS")
    quality = [m for m in res["metrics"] if m["gated"]]
    assert {m["candidate_pipeline"] for m in quality} == {"cv2-telea", "cv2-ns"}
    # background.psnr of pixel-identical backgrounds is capped at 100 dB: compared like any value
    assert {m["verdict"] for m in quality} == {"no change"}
    assert all(m["n_tasks"] == 4 for m in quality if m["verdict"] == "no change")
    assert junit.get("failures") == "0" and junit.get("errors") == "0"


def test_all_failed_candidate_is_a_failure_verdict_not_a_crash(runs):
    code, err, res, junit, md = gate_cli(runs, "failed")
    assert code == 1, err
    assert res["verdict"] == "fail" and "Traceback" not in err
    f = {x["candidate_pipeline"]: x for x in res["failures"]}
    assert f["cv2-telea"]["failed"] and f["cv2-telea"]["candidate_failed"] == 4 and len(f["cv2-telea"]["new_failures"]) == 4
    assert all(m["verdict"] == "no data" for m in res["metrics"])
    assert "failures of cv2-telea (4/4 rows)" in err
    assert int(junit.get("failures")) == 2


def test_candidate_missing_a_pipeline_is_exit_2_naming_it(runs):
    code, err, res, junit, md = gate_cli(runs, "one_pipeline")
    assert code == 2 and "cv2-ns" in err and err.startswith("editbench: error: ") and err.count("\n") == 1
    assert res["verdict"] == "error" and "cv2-ns" in res["error"] and junit.get("errors") == "1"
    assert "Unusable input" in md
    code, err, res, _, _ = gate_cli(runs, "one_pipeline", "--allow-partial")
    assert code == 0, err
    assert {m["candidate_pipeline"] for m in res["metrics"]} == {"cv2-telea"}
    assert any("cv2-ns" in w for w in res["warnings"])


def test_limited_candidate_is_exit_2_and_never_a_pass(runs):
    code, err, res, _, _ = gate_cli(runs, "limited")
    assert code == 2, err
    assert "limit 1" in res["error"] and "lacks 3 of the 4 tasks" in res["error"]
    # allowed to be partial, one task with one seed still compares nothing: not a pass either
    code, err, res, _, _ = gate_cli(runs, "limited", "--allow-partial")
    assert code == 2 and "compared nothing" in err


def test_metric_definition_differs_between_runs(runs, tmp_path):
    record = {"seam.score": {"scorer": "seam", "direction": "lower", "role": "quality", "version": 1}}
    base = clone_run(runs / "base", tmp_path / "b", meta_update={"metrics": record})
    cand = clone_run(runs / "same", tmp_path / "c",
                     meta_update={"metrics": {"seam.score": {**record["seam.score"], "version": 2}}})
    r = CliRunner().invoke(app, ["gate", str(base), str(cand)])
    assert r.exit_code == 2 and "'seam.score' has version 1" in r.stderr
    assert json.loads((cand / "gate.json").read_text())["verdict"] == "error"


def test_bad_gates_yaml_still_writes_the_files(runs, tmp_path):
    (tmp_path / "g.yaml").write_text("family: bonferroni\n")
    r = CliRunner().invoke(app, ["gate", str(runs / "base"), str(runs / "same"), "--config", str(tmp_path / "g.yaml"),
                                 "--out", str(tmp_path / "g")])
    assert r.exit_code == 2 and "family" in r.stderr
    assert json.loads((tmp_path / "g" / "gate.json").read_text())["verdict"] == "error"


# ------------------------------------------------------------------ family-wise settings (no Ray)

def _rows(n_metrics: int, shift: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    tasks = [f"t{i}" for i in range(len(shift))]
    base = pd.DataFrame({"task_id": tasks, "seed": 0, "pipeline": "p", "status": "ok", "weights": "trained"})
    cand = base.copy()
    for j in range(n_metrics):
        base[f"m.x{j}"] = np.arange(len(shift), dtype=float)
        cand[f"m.x{j}"] = base[f"m.x{j}"] - shift            # higher is better: every metric a little worse
    record = {f"m.x{j}": {"scorer": "m", "direction": "higher", "role": "quality", "primary": j == 0}
              for j in range(n_metrics)}
    return base, cand, record


def test_holm_controls_the_family_and_primary_gating():
    # per-task losses whose one-sided t-test gives p = 0.021 for each of 12 metrics
    shift = np.array([0.9, 1.4, -0.3, 1.1, 0.1, 1.5, -0.4, 1.0])
    b, c, record = _rows(12, shift)
    none = compare(b, c, config=GateConfig(family="none"), record=record)
    p = none.metrics[0].p_regressed
    assert 0.025 / 12 < p < 0.025                                 # significant alone, not after Holm over 12
    assert none.exit_code == 1 and len(none.regressed) == 12
    holm = compare(b, c, config=GateConfig(), record=record)
    assert holm.exit_code == 0 and not holm.regressed
    assert all(m.p_regressed_adj == pytest.approx(12 * p) for m in holm.metrics)
    # a provenance column (direction none) is never gated, even when it changes
    b["m.flag"], c["m.flag"] = 0.0, 1.0
    flagged = compare(b, c, config=GateConfig(), record={**record, "m.flag": {"scorer": "m", "direction": "none",
                                                                             "role": "provenance"}})
    assert "m.flag" not in {m.metric for m in flagged.metrics}
    primary = compare(b, c, config=GateConfig(gated="primary"), record=record)
    assert primary.exit_code == 1 and [m.metric for m in primary.regressed] == ["m.x0"]
    assert sum(m.gated for m in primary.metrics) == 1
    assert all(m.verdict == "regressed" for m in primary.metrics)   # advisory verdicts: each at its own level


def test_fewer_seeds_or_an_unfinished_candidate_is_partial():
    from harness.core.errors import EditbenchError
    from reports.gate import _run_json_partial

    b, c, record = _rows(1, np.zeros(4))
    b2 = pd.concat([b, b.assign(seed=1)], ignore_index=True)
    with pytest.raises(EditbenchError, match="fewer seeds than the baseline on 4 task"):
        compare(b2, c, record=record)
    # different seeds, as many per task: an A/A with fresh seeds is not partial
    assert compare(b2, pd.concat([c.assign(seed=5), c.assign(seed=6)], ignore_index=True),
                   record=record).exit_code == 0
    assert _run_json_partial({"spec": {"limit": None}, "status": "complete"},
                             {"spec": {"limit": 2}, "status": "running"}, "cand") == [
        "candidate cand ran with limit 2 (baseline: none)", "candidate cand has run.json status 'running', not 'complete'"]
    assert _run_json_partial({"spec": {"limit": 2}}, {"spec": {"limit": 2}, "status": "complete"}, "cand") == []
