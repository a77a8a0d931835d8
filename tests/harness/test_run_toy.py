"""End to end: the toy-5d suite through Ray into Parquet, report, resume and reproducibility."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harness.contract.results import REQUIRED_COLUMNS, read_results
from harness.contract.spec import RunSpec
from harness.workflow import run
from reports.write import write_report

PIPELINES = ["toy-naive", "toy-repaint", "toy-unconditional"]


@pytest.fixture(scope="module")
def toy_run(ray_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("toy-run")
    run(RunSpec(suite="toy-5d", seeds=[0, 1]), out=out, progress=False)
    return out


def test_one_row_per_task_pipeline_seed(toy_run):
    df = read_results(toy_run)
    assert len(df) == 4 * 3 * 2
    assert not df.duplicated(["task_id", "pipeline", "seed"]).any()
    assert set(df["pipeline"]) == set(PIPELINES)
    for col in (*REQUIRED_COLUMNS, "latency_denoise_ms", "param.mask_fraction",
                "toy.energy_distance", "toy.masked_residual", "toy.boundary_residual", "toy.wrong_cluster",
                "latency.total_ms"):
        assert col in df.columns, col
    assert (df["status"] == "ok").all()
    assert df["error"].isna().all()
    assert set(df["weights"]) == {"trained"}
    assert sorted(df["param.mask_fraction"].unique()) == [0.2, 0.4, 0.6, 0.8]
    assert (df["latency_ms"] > 0).all()


def test_outputs_and_run_json(toy_run):
    df = read_results(toy_run)
    for p in df["output_path"]:
        assert (toy_run / p).is_file()
    meta = json.loads((toy_run / "run.json").read_text())
    assert meta["run_id"] == df["run_id"].iloc[0]
    assert meta["suite"]["name"] == "toy-5d" and len(meta["suite"]["hash"]) == 64
    assert [p["name"] for p in meta["pipelines"]] == PIPELINES
    assert meta["seeds"] == [0, 1] and meta["scorers"] == ["toy", "latency"]
    assert meta["packages"]["torch"] and meta["hardware"]["cpu_count"]
    assert meta["status"] == "complete" and meta["start_time"] <= meta["end_time"]


def test_metrics_behave_like_the_exercises_say(toy_run):
    df = read_results(toy_run)
    mean = df.groupby(["pipeline", "param.mask_fraction"])["toy.wrong_cluster"].mean()
    assert mean["toy-naive", 0.2] <= 0.01 and mean["toy-repaint", 0.2] <= 0.01
    assert mean["toy-repaint", 0.6] < mean["toy-naive", 0.6]
    assert all(0.4 < mean["toy-unconditional", f] < 0.6 for f in (0.2, 0.4, 0.6, 0.8))


def test_same_seed_reproduces_parquet_values_bit_for_bit(toy_run, tmp_path):
    again = run(RunSpec(suite="toy-5d", seeds=[1], pipelines=["toy-repaint"]), out=tmp_path / "again", progress=False)
    cols = ["toy.energy_distance", "toy.masked_residual", "toy.boundary_residual", "toy.wrong_cluster"]
    key = ["task_id", "pipeline", "seed"]
    a = read_results(toy_run).query("seed == 1 and pipeline == 'toy-repaint'").sort_values(key)[key + cols]
    b = read_results(again).sort_values(key)[key + cols]
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)


def test_resume_of_a_complete_run_adds_nothing(toy_run):
    before = read_results(toy_run)
    run(RunSpec(suite="toy-5d", seeds=[0, 1], resume=True), out=toy_run, progress=False)
    after = read_results(toy_run)
    assert len(after) == len(before)
    meta = json.loads((toy_run / "run.json").read_text())
    assert meta["attempts"][-1]["jobs_skipped"] == 24


def test_report_is_pipeline_by_mask_fraction(toy_run):
    text = write_report(toy_run)
    assert (toy_run / "leaderboard.md").read_text() == text
    for p in PIPELINES:
        for f in ("0.2", "0.4", "0.6", "0.8"):
            assert any(line.startswith(f"| {p} | {f} |") for line in text.splitlines()), (p, f)
    assert "toy.wrong_cluster ↓" in text
