"""The gate refuses two runs whose identity numbers come from different models (exit 2, one sentence)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.contract.results import ResultRow, write_shard
from reports.gate import gate
from scorers.columns import metrics_record


def _identity_run(out: Path, *, backend: str, sha: str) -> Path:
    out.mkdir(parents=True)
    record = metrics_record(["identity"], primary="identity.distance")
    for m in record.values():
        if m["scorer"] == "identity":
            m.update({"backend": backend, "model": f"{backend}.model", "sha256": sha})
    meta = {"run_id": out.name, "suite": {"name": "faces", "version": "1", "hash": "h"}, "pipelines": [],
            "seeds": [0, 1], "scorers": ["identity"], "metrics": record, "status": "complete"}
    (out / "run.json").write_text(json.dumps(meta))
    rows = [ResultRow(run_id=out.name, suite="faces", task_id=f"t{i}", kind="face_regen", pipeline="p", seed=s,
                      weights="real", latency_ms=1.0,
                      metrics={"identity.distance": 0.3 + 0.01 * i, "identity.cosine": 0.5, "identity.detected": 1.0,
                               "identity.detector_scrfd": 0.0}).to_record()
            for i in range(4) for s in (0, 1)]
    write_shard(out, rows)
    return out


def test_gate_between_arcface_and_dlib_runs_is_refused(tmp_path):
    dlib = _identity_run(tmp_path / "dlib", backend="dlib", sha="a" * 64)
    arc = _identity_run(tmp_path / "arc", backend="arcface", sha="b" * 64)
    res = gate(arc, dlib)
    assert res.exit_code == 2
    assert "backend 'arcface'" in res.error and "'dlib'" in res.error and "\n" not in res.error
    other_model = _identity_run(tmp_path / "dlib2", backend="dlib", sha="c" * 64)
    res = gate(dlib, other_model)
    assert res.exit_code == 2 and "sha256" in res.error
    same = _identity_run(tmp_path / "dlib3", backend="dlib", sha="a" * 64)
    assert gate(dlib, same).exit_code == 0
