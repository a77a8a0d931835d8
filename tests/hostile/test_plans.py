"""Keys and plans: repeated seeds or scorers refused before work, a resume that would shrink the plan
refused, foreign shards refused by report and gate, and dot-named leftovers never read as rows."""

from __future__ import annotations

import io
import json

import pandas as pd

from harness.contract.results import read_results, write_shard
from tests.harness import test_object_storage as s3_support
from tests.harness.test_object_storage import BUCKET
from tests.hostile.helpers import assert_one_sentence, editbench, fake_run, row, toy_suite

s3, s3_env = s3_support.s3, s3_support.s3_env   # the moto server fixtures


def test_repeated_seeds_are_refused_before_any_work(tmp_path):
    suite = toy_suite(tmp_path / "s.yaml", ["a", "b"])
    res = editbench("run", "--suite", str(suite), "--seeds", "0,0", "--out", str(tmp_path / "o"))
    assert_one_sentence(res, "seeds [0, 0] repeat [0]")
    assert not (tmp_path / "o").exists()
    res = editbench("run", "--suite", str(suite), "--scorers", "latency,latency", "--out", str(tmp_path / "o"))
    assert_one_sentence(res, "scorers ['latency', 'latency'] repeat")


def test_resume_with_a_limit_that_shrinks_the_plan_is_refused(tmp_path):
    suite = toy_suite(tmp_path / "s.yaml", [f"t{i}" for i in range(5)])
    out = tmp_path / "o"
    out.mkdir()
    planned = [[f"t{i}", "toy-naive", 0] for i in range(5)]
    (out / "run.json").write_text(json.dumps({"run_id": "r1", "status": "running", "seeds": [0],
                                              "scorers": ["latency"], "pipelines": [{"name": "toy-naive",
                                                                                     "label": "toy-naive"}],
                                              "jobs": {"planned": planned}, "attempts": []}))
    res = editbench("run", "--suite", str(suite), "--out", str(out), "--resume", "--limit", "1")
    assert_one_sentence(res, "--resume would plan 1 of the run's 5 jobs", "--limit")
    assert json.loads((out / "run.json").read_text())["jobs"]["planned"] == planned   # untouched
    assert not (out / ".editbench.lock").exists()
    (out / "run.json").write_text(json.dumps({"run_id": "r1", "seeds": [0], "scorers": ["latency"],
                                              "pipelines": [{"name": "toy-naive"}], "jobs": {"planned": "all"}}))
    res = editbench("run", "--suite", str(suite), "--out", str(out), "--resume")
    assert_one_sentence(res, "run.json field jobs.planned")


def test_a_foreign_shard_is_refused_by_report_and_gate(tmp_path):
    base = fake_run(tmp_path / "base", [row("a"), row("b")])
    cand = fake_run(tmp_path / "cand", [row("a"), row("b")])
    write_shard(cand, [{**row("c"), "run_id": "someone-else", "suite": "other"}])
    res = editbench("report", str(cand))
    assert_one_sentence(res, "run_id 'someone-else'", "another run")
    res = editbench("gate", str(base), str(cand))
    assert res.returncode == 2 and "run_id 'someone-else'" in res.stderr and "Traceback" not in res.stderr


def test_dot_named_leftovers_are_not_rows_locally_or_through_s3_staging(tmp_path, s3_env):
    from harness.core.storage import Location, staged

    out = fake_run(tmp_path / "o", [row("a"), row("b")])
    buf = io.BytesIO()
    pd.DataFrame.from_records([row("a")]).to_parquet(buf, index=False)
    (out / "results" / ".part-leftover.parquet").write_bytes(buf.getvalue())
    assert len(read_results(out)) == 2
    uri = f"s3://{BUCKET}/dotnames"
    loc = Location(uri)
    for f in (out / "results").iterdir():
        loc.write_bytes(f.read_bytes(), "results", f.name)
    loc.write_bytes((out / "run.json").read_bytes(), "run.json")
    assert len(read_results(uri)) == 2
    with staged(uri) as local:
        assert len(read_results(local)) == 2 and not (local / "results" / ".part-leftover.parquet").exists()
