"""A finished classical run (smoke-removal with cv2-telea and cv2-ns, through Ray, judged inside the run
with the ImgEdit protocol) rescored with the VIEScore judge against the loopback chat-completions server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.contract.results import load_run
from harness.contract.spec import PipelineSpec, RunSpec
from tests.harness.rescore_helpers import KEY_ENV, files_text, judge_config


@pytest.fixture(scope="module")
def classical_run(tmp_path_factory, ray_session, judge_server):
    """The run scores with ``background`` and, inside the run, the ImgEdit-protocol judge."""
    from harness.execution.runner import run

    root = tmp_path_factory.mktemp("classical")
    opts = {"base_url": judge_server.base_url, "api_key_env": KEY_ENV, "model": "judge-test-1",
            "cache_dir": str(root / "cache")}
    run(RunSpec(suite="smoke-removal", pipelines=[PipelineSpec(name="cv2-telea"), PipelineSpec(name="cv2-ns")],
                seeds=[0], scorers=["background", "judge_imgedit"], scorer_options={"judge_imgedit": opts}, limit=2),
        out=root / "run", progress=False)
    return root / "run"


def test_rescore_adds_judge_columns_to_a_classical_run(classical_run, judge_server, tmp_path, ray_session):
    before = files_text(classical_run)
    cfg = judge_config(tmp_path / "judge.yaml", judge_server, tmp_path / "cache")
    n0 = judge_server.calls()
    res = CliRunner().invoke(app, ["rescore", str(classical_run), "--scorers", "judge", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert judge_server.calls() - n0 == 4
    after = files_text(classical_run)
    assert all(after[r] == d for r, d in before.items() if r.startswith(("results/", "outputs/")))
    meta, df = load_run(classical_run)
    assert df["judge.overall"].notna().all() and df["background.psnr"].notna().all()
    assert meta["metrics"]["judge.overall"]["pins"]["model"] == "judge-test-1"
    assert meta["primary"] != "judge.overall"      # an inpainting suite keeps its own primary
    board = (classical_run / "leaderboard.md").read_text()
    header = next(line for line in board.splitlines() if "judge.overall" in line)
    assert "judge.sc" in header and "judge.pq" in header
    assert "| cv2-ns | 2 | 2 | 0 | 0 | 0 | 0 | 0 | judge-test-1 |" in board      # judged, then NaN by reason
    assert "## Judge `judge`" in board and "## Judge `judge_imgedit`" in board
    assert "unparsable" in board
    res = CliRunner().invoke(app, ["rescore", str(classical_run), "--scorers", "judge", "--config", str(cfg),
                                   "--force", "--no-report"])
    assert res.exit_code == 0 and judge_server.calls() - n0 == 4      # the second rescore: no request
    key = os.environ[KEY_ENV].encode()
    for rel, data in files_text(classical_run).items():
        assert key not in data, rel
    session = Path(ray_session._private.worker._global_node.get_session_dir_path())   # this test session's Ray
    logs = [p for p in (session / "logs").rglob("*") if p.is_file()]
    assert logs
    for log in logs:
        assert key not in log.read_bytes(), log


def test_the_judge_as_a_scorer_of_a_run(classical_run):
    meta, df = load_run(classical_run)
    assert df["judge_imgedit.overall"].notna().all() and (df["judge_imgedit_model_reported"] == "judge-test-1").all()
    assert df["judge_imgedit_answer"].str.contains("compliance").all()
    assert meta["metrics"]["judge_imgedit.overall"]["pins"]["protocol"] == "imgedit"
    assert os.environ[KEY_ENV] not in json.dumps(meta)
