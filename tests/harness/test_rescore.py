"""``editbench rescore`` on finished runs written without Ray (tests/harness/rescore_helpers.py), against a
loopback chat-completions judge: side-table columns every reader joins, run.json's pins and attempt
entry, zero requests on a second rescore, resuming an interrupted rescore, the gate refusing two judges,
the judge's overall score as the primary of an instruction-editing run, object-store runs, and the key
kept out of every file."""

from __future__ import annotations

import json
import math
import os

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.contract.results import load_run, read_results
from harness.core.errors import EditbenchError
from harness.execution.rescore import rescore, scorer_options
from tests.harness.rescore_helpers import KEY_ENV, fake_run, files_text, judge_config


def cli(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.output + (res.stderr if hasattr(res, "stderr") else "")


def test_rescore_adds_judge_columns_that_every_reader_joins(judge_server, tmp_path):
    run = fake_run(tmp_path / "run")
    before = files_text(run)
    cfg = judge_config(tmp_path / "judge.yaml", judge_server, tmp_path / "cache")
    n0 = judge_server.calls()
    code, out = cli("rescore", run, "--scorers", "judge", "--config", cfg)
    assert code == 0, out
    assert judge_server.calls() - n0 == 4                  # 2 tasks x 2 pipelines, one request each
    after = files_text(run)
    for rel, data in before.items():                       # the pipelines' rows and outputs are untouched
        if rel != "run.json":
            assert after[rel] == data, rel
    assert [r for r in after if r.startswith("scores/")]
    meta, df = load_run(run)
    assert len(df) == 4
    by = df.set_index(["pipeline", "task_id"])
    assert by.loc[("keep", "t0"), "judge.sc_edit"] == 0 and by.loc[("invert", "t0"), "judge.sc_edit"] >= 5
    assert by.loc[("invert", "t0"), "judge.overall"] == pytest.approx(math.sqrt(by.loc[("invert", "t0"), "judge.sc"] * 7))
    assert by.loc[("keep", "t1"), "judge_reason"] == "unparsable" and math.isnan(by.loc[("keep", "t1"), "judge.overall"])
    assert by.loc[("keep", "t0"), "judge_model_reported"] == "judge-test-1"
    assert "edit_success" in by.loc[("keep", "t0"), "judge_answer"]
    rec = meta["metrics"]["judge.overall"]
    assert rec["pins"]["model"] == "judge-test-1" and rec["pins"]["protocol"] == "viescore"
    assert rec["pins"]["protocol_version"] == 1 and rec["pins"]["models_reported"] == ["judge-test-1"]
    assert meta["attempts"][-1]["command"] == "rescore" and meta["attempts"][-1]["rows_scored"] == {"judge": 4}
    assert meta["primary"] == "judge.overall" and rec["primary"]          # an instruction-editing suite
    board = (run / "leaderboard.md").read_text()
    assert "judge.overall" in board and "judge.sc" in board and "judge.pq" in board
    assert "| keep | 2 | 1 | 1 |" in board and "| invert | 2 | 1 | 1 |" in board    # rows, judged, unparsable
    summary = json.loads((run / "results.json").read_text())
    assert "judge.overall" in json.dumps(summary)
    key = os.environ[KEY_ENV]
    for root in (run, tmp_path / "cache"):
        for rel, data in files_text(root).items():
            assert key.encode() not in data, rel
    assert key not in out


def test_a_second_rescore_makes_no_request(judge_server, tmp_path):
    run = fake_run(tmp_path / "run")
    cfg = judge_config(tmp_path / "judge.yaml", judge_server, tmp_path / "cache")
    assert cli("rescore", run, "--scorers", "judge", "--config", cfg, "--no-report")[0] == 0
    n0 = judge_server.calls()
    code, out = cli("rescore", run, "--scorers", "judge", "--config", cfg, "--no-report")
    assert code == 0 and judge_server.calls() == n0 and "4 already scored" in out
    code, out = cli("rescore", run, "--scorers", "judge", "--config", cfg, "--force", "--no-report")   # recomputed from the cache
    assert code == 0 and judge_server.calls() == n0 and "4 scored" in out
    df = read_results(run)
    assert df["judge_cached"].astype(bool).all() and (df["judge_calls"] == 0).all()
    assert df["judge.sc"].notna().sum() == 2


def test_an_interrupted_rescore_resumes_where_it_stopped(judge_server, tmp_path):
    run = fake_run(tmp_path / "run")
    opts = scorer_options(judge_config(tmp_path / "judge.yaml", judge_server, tmp_path / "cache"), ["judge"])

    def stop(msg):
        raise KeyboardInterrupt

    n0 = judge_server.calls()
    with pytest.raises(KeyboardInterrupt):
        rescore(run, scorers=["judge"], options=opts, batch=1, log=stop)
    assert judge_server.calls() - n0 == 1 and not (run / ".editbench.lock").exists()
    r = rescore(run, scorers=["judge"], options=opts, batch=1, log=lambda m: None)
    assert r.skipped["judge"] == 1 and r.scored["judge"] == 3 and judge_server.calls() - n0 == 4
    assert read_results(run)["judge_protocol"].notna().all()


def test_a_gate_across_two_judge_models_is_refused(judge_server, tmp_path):
    a, b = fake_run(tmp_path / "a"), fake_run(tmp_path / "b")
    assert cli("rescore", a, "--scorers", "judge", "--no-report", "--config",
               judge_config(tmp_path / "ja.yaml", judge_server, tmp_path / "cache"))[0] == 0
    assert cli("rescore", b, "--scorers", "judge", "--no-report", "--config",
               judge_config(tmp_path / "jb.yaml", judge_server, tmp_path / "cache"), "--model", "judge-test-2")[0] == 0
    code, out = cli("gate", a, b)
    assert code == 2 and "judged by model 'judge-test-1' and 'judge-test-2'" in out
    c = fake_run(tmp_path / "c")
    assert cli("rescore", c, "--scorers", "judge", "--no-report", "--config",
               judge_config(tmp_path / "jc.yaml", judge_server, tmp_path / "cache"))[0] == 0
    code, out = cli("gate", a, c)
    assert code != 2, out                                   # the same pinned judge: gated as usual


def test_rescore_recomputes_a_column_the_run_already_had(judge_server, tmp_path):
    run = fake_run(tmp_path / "run")
    assert read_results(run)["latency.total_ms"].eq(5.0).all()
    code, out = cli("rescore", run, "--scorers", "latency", "--no-report")
    assert code == 0, out
    df = read_results(run)
    assert df["latency.total_ms"].isna().all()   # the stored outputs carry no timings: recomputed as NaN


def test_bad_input_is_one_sentence(judge_server, tmp_path, monkeypatch):
    run = fake_run(tmp_path / "run")
    code, out = cli("rescore", tmp_path / "nothing", "--scorers", "judge")
    assert code == 2 and "run.json" in out
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out = cli("rescore", run, "--scorers", "judge")
    assert code == 2 and "OPENAI_API_KEY" in out and not (run / "scores").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("judge:\n  api_key: sk-123\n")
    code, out = cli("rescore", run, "--scorers", "judge", "--config", bad)
    assert code == 2 and "api_key" in out and "sk-123" not in out
    code, out = cli("rescore", run, "--scorers", "lpips", "--model", "x")
    assert code == 2 and "judge" in out
    suite = tmp_path / "run-suite.yaml"
    suite.write_text(suite.read_text().replace("warmer", "cooler"))
    code, out = cli("rescore", run, "--scorers", "judge", "--config",
                    judge_config(tmp_path / "j.yaml", judge_server, tmp_path / "cache"))
    assert code == 2 and "has changed" in out


def test_rescore_of_an_object_store_run(judge_server, tmp_path, monkeypatch):
    moto_server = pytest.importorskip("moto.server", reason="needs moto[server] (test extra)")
    boto3 = pytest.importorskip("boto3")
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "editbench-test",
               "AWS_SECRET_ACCESS_KEY": "editbench-test-secret", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true"}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
        client.create_bucket(Bucket="runs")
        run = fake_run(tmp_path / "run")
        for rel, data in files_text(run).items():
            client.put_object(Bucket="runs", Key=f"r1/{rel}", Body=data)
        cfg = judge_config(tmp_path / "judge.yaml", judge_server, tmp_path / "cache")
        code, out = cli("rescore", "s3://runs/r1", "--scorers", "judge", "--config", cfg)
        assert code == 0, out
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="runs", Prefix="r1/")["Contents"]]
        assert any(k.startswith("r1/scores/judge-") for k in keys) and "r1/leaderboard.md" in keys
        df = read_results("s3://runs/r1")
        assert df["judge.overall"].notna().sum() == 2
        meta = json.loads(client.get_object(Bucket="runs", Key="r1/run.json")["Body"].read())
        assert meta["metrics"]["judge.overall"]["pins"]["model"] == "judge-test-1"
    finally:
        server.stop()


def test_pairwise_votes_in_both_orders_in_the_arena_format(judge_server, tmp_path):
    run = fake_run(tmp_path / "run", instructions=("make it ok warmer", "make it refuse night"))
    cfg = judge_config(tmp_path / "judge.yaml", judge_server, tmp_path / "cache")
    n0 = judge_server.calls()
    code, out = cli("rescore", run, "--pairwise", "keep,invert", "--config", cfg)
    assert code == 0, out
    assert judge_server.calls() - n0 == 4                 # 2 tasks x 2 orders
    files = list((run / "votes").glob("judge-*.jsonl"))
    votes = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert len(votes) == 2                                # the refused task casts no vote
    assert {(v["left"], v["right"]) for v in votes} == {("keep", "invert"), ("invert", "keep")}
    for v in votes:
        assert v["rater"] == "judge:judge-test-1" and v["task_id"] == "t0" and v["seed"] == 0
        assert v["answer"] in ("left", "right", "tie", "both_bad") and v["time"]
        # the stand-in judge prefers the larger change: the inverted image, wherever it is shown
        assert v["answer"] == ("left" if v["left"] == "invert" else "right")
    assert "invert 2" in out and "0 pairs changed their verdict" in out and "refusal 2" in out
    code, out = cli("rescore", run, "--pairwise", "keep,invert", "--config", cfg)
    assert code == 0 and "1 pairs already voted" in out and len(list((run / "votes").glob("*.jsonl"))) == 1
    assert os.environ[KEY_ENV] not in "".join(f.read_text() for f in (run / "votes").glob("*"))
    code, out = cli("rescore", run, "--pairwise", "keep,nobody", "--config", cfg)
    assert code == 2 and "nobody" in out


def test_a_configured_judge_is_the_primary_of_instruction_edits_only():
    from scorers.columns import choose_primary, metrics_record

    record = metrics_record(["clip", "background", "judge"])
    assert choose_primary(record, ["instruct", "instruct"]) == "judge.overall"
    assert choose_primary(record, ["sdedit"]) == "judge.overall"
    assert choose_primary(metrics_record(["clip", "judge_imgedit"]), ["instruct"]) == "judge_imgedit.overall"
    assert choose_primary(metrics_record(["clip"]), ["instruct"]) == "clip.score"
    assert choose_primary(record, ["outpaint"]) != "judge.overall"


def test_pins_that_differ_are_named():
    from reports.gate import pin_mismatch

    pins = {"model": "m1", "protocol": "viescore", "protocol_version": 1, "models_reported": ["m1-0611"]}
    assert pin_mismatch(pins, dict(pins)) is None and pin_mismatch(None, None) is None
    assert "protocol version 1 and 2" in pin_mismatch(pins, {**pins, "protocol_version": 2})
    assert "'m1-0611'" in pin_mismatch(pins, {**pins, "models_reported": ["m1-0904"]})
    assert pin_mismatch(pins, {**pins, "models_reported": []}) is None      # nothing reported yet: the request decides
    assert "model 'm1' and None" in pin_mismatch(pins, None)


def test_a_broken_score_shard_is_one_sentence(tmp_path):
    run = fake_run(tmp_path / "run")
    (run / "scores").mkdir()
    (run / "scores" / "judge-broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(EditbenchError, match="judge-broken.parquet cannot be read"):
        read_results(run)
