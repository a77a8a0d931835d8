import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.contract.results import ResultRow, write_shard
from reports.history import find_runs, read_history, trends
from reports.leaderboard import build_report
from tests.reports.helpers import write_meta


def test_history_over_the_toy_runs(toy_runs):
    res = CliRunner().invoke(app, ["report", "--history", str(toy_runs["root"])])
    assert res.exit_code == 0, res.stderr
    runs = find_runs(toy_runs["root"])
    assert [r.path.name for r in runs] == ["base", "aa", "degraded"]      # by start_time
    tr = trends(read_history(runs))["toy-5d"]
    pts = tr["toy.wrong_cluster"]["toy-repaint"]
    assert [p.run_id for p in pts] == [r.run_id for r in runs]
    base = next(e for e in build_report(toy_runs["base"]).overall if e.pipeline == "toy-repaint")
    assert pts[0].mean == pytest.approx(base.metrics["toy.wrong_cluster"].mean)
    assert pts[0].lo == pytest.approx(base.metrics["toy.wrong_cluster"].lo)
    assert pts[2].mean > pts[0].mean                                       # the degraded run shows up
    assert len(tr["toy.wrong_cluster"]["toy-naive"]) == 2
    assert "| toy.wrong_cluster ↓ | toy-repaint |" in res.stdout
    html = (toy_runs["root"] / "history.html").read_text()
    assert "data:image/png;base64," in html


def test_history_unifies_shards_with_different_columns(tmp_path):
    """An error-only shard lacks metric columns; a later scorer adds one: nothing is dropped."""
    for i, extra in enumerate([{}, {"latency.total_ms": 5.0}]):
        out = tmp_path / f"r{i}"
        write_meta(out, name="s", hash="h")
        ok = [ResultRow(run_id=f"r{i}", suite="s", task_id=f"t{t}", kind="toy", pipeline="p", seed=0,
                        metrics={"toy.wrong_cluster": 0.1 * t, **extra}).to_record() for t in range(3)]
        write_shard(out, [ResultRow(run_id=f"r{i}", suite="s", task_id="t9", kind="toy", pipeline="p", seed=0,
                                    status="error", error="x").to_record()])
        write_shard(out, ok)
    df = read_history(find_runs(tmp_path))
    assert len(df) == 8 and set(df["run_id"]) == {"run-r0", "run-r1"}
    assert df["toy.wrong_cluster"].notna().sum() == 6 and df["latency.total_ms"].notna().sum() == 3
    assert isinstance(df, pd.DataFrame)


def test_history_of_an_empty_root_exits_2(tmp_path):
    res = CliRunner().invoke(app, ["report", "--history", str(tmp_path)])
    assert res.exit_code == 2 and "holds no run directory" in res.stderr
