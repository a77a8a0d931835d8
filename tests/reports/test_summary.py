"""results.json: per pipeline x metric task mean, t interval, n, meaning and provenance (no Ray)."""

import json

import numpy as np
import pytest
from scipy import stats

from reports.summary import results_summary
from reports.write import write_report
from tests.reports.helpers import image_run, task_mean


def test_report_writes_results_json(tmp_path):
    out = image_run(tmp_path)
    write_report(out, html=False)
    doc = json.loads((out / "results.json").read_text())          # strict JSON (no NaN)
    assert doc["provenance"]["run_id"] == "run-run" and doc["suite"]["name"] == "img"
    assert doc["counts"] == {"ok": 12, "error": 1, "timeout": 0}
    good = doc["results"]["good"]
    assert good["counts"] == {"ok": 6, "error": 1, "timeout": 0}
    r = good["metrics"]["toy.masked_residual"]
    from harness.contract.results import read_results

    df = read_results(out)
    ok = df[(df["pipeline"] == "good") & (df["status"] == "ok")]
    assert r["mean"] == pytest.approx(task_mean(ok, "toy.masked_residual"))
    per_task = ok.groupby("task_id")["toy.masked_residual"].mean().to_numpy()
    ref = stats.ttest_1samp(per_task, 0.0).confidence_interval(0.95)
    # the paired-t interval, clipped to the metric's recorded range ([0, inf) for a residual)
    assert r["ci"] == pytest.approx([max(ref.low, 0.0), ref.high])
    assert (r["n_tasks"], r["n_rows"], r["direction"], r["role"]) == (3, 6, "lower", "quality")
    # random weights: quality is not summarised, latency is (warm-up row left out)
    fast = doc["results"]["fast"]["metrics"]
    assert fast["toy.masked_residual"]["mean"] is None and fast["toy.masked_residual"]["n_rows"] == 0
    assert fast["latency.total_ms"]["n_rows"] == 5 and fast["latency.total_ms"]["role"] == "latency"


def test_metric_meaning_comes_from_run_json():
    import pandas as pd

    df = pd.DataFrame({"task_id": ["a", "b"], "pipeline": "p", "seed": 0, "status": "ok", "weights": "real",
                       "x.y": [1.0, 3.0], "x.flag": [0.0, 1.0]})
    meta = {"run_id": "r", "metrics": {"x.y": {"scorer": "x", "direction": "higher", "role": "quality", "version": 3},
                                       "x.flag": {"scorer": "x", "direction": "none", "role": "provenance"}}}
    doc = results_summary(meta, df)
    m = doc["results"]["p"]["metrics"]
    assert set(m) == {"x.y"}                                        # provenance flags are not summarised
    assert m["x.y"]["mean"] == 2.0 and m["x.y"]["version"] == 3 and m["x.y"]["direction"] == "higher"
    assert np.isfinite(m["x.y"]["ci"]).all()
