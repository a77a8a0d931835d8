"""No computed row is lost and no broken result is used silently: fallback rows, corrupt shards,
duplicate keys, wrong-typed key columns, plain-text error messages."""

from __future__ import annotations

import errno

import pytest

from harness.contract.results import done_keys, load_run, read_results, results_dir
from harness.core.errors import EditbenchError, InfrastructureError
from harness.execution.runner import _Writer
from harness.execution.worker import one_line
from tests.hostile.helpers import assert_one_sentence, editbench, fake_run, row


def test_rows_a_parquet_shard_cannot_hold_go_to_the_fallback_file(tmp_path, capsys):
    out = tmp_path / "o"
    w = _Writer(out, every=100, seconds=1e9)
    w.add(row("a", foo=1))
    w.add(row("b", foo="x"))          # one column of int and str: pyarrow refuses the shard
    w.add(row("c", foo=2.5))
    w.flush()
    assert w.written == 3 and w.fallback == 3
    assert list(results_dir(out).glob("fallback-*.jsonl")) and not list(results_dir(out).glob("*.parquet"))
    assert "went to" in capsys.readouterr().err
    df = read_results(out)
    assert sorted(df["task_id"]) == ["a", "b", "c"]
    assert ("a", "p", 0) in done_keys(out)


def test_storage_failure_of_a_shard_is_an_infrastructure_error_naming_the_path(tmp_path, monkeypatch):
    import harness.execution.runner as runner

    def full(out, records):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "results" / "part-x.parquet"))

    monkeypatch.setattr(runner, "write_shard", full)
    w = _Writer(tmp_path, every=1, seconds=1e9)
    with pytest.raises(InfrastructureError) as e:
        w.add(row("a"))
    assert "No space left on device" in str(e.value) and "part-x.parquet" in str(e.value)
    assert e.value.exit_code == 4
    assert not list(results_dir(tmp_path).glob("fallback-*"))


@pytest.mark.parametrize("content", [b"", b"PAR1 this is not parquet"])
def test_corrupt_or_empty_shard_is_named(tmp_path, content):
    out = fake_run(tmp_path / "o", [row("a")])
    bad = results_dir(out) / "part-broken.parquet"
    bad.write_bytes(content)
    with pytest.raises(EditbenchError) as e:
        read_results(out)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)
    assert_one_sentence(editbench("report", str(out)), "part-broken.parquet")


def test_history_skips_a_corrupt_run_with_a_warning(tmp_path, capsys):
    from reports.history import find_runs, read_history

    good = fake_run(tmp_path / "runs" / "good", [row("a", **{"latency.total_ms": 1.0})])
    bad = fake_run(tmp_path / "runs" / "bad", [row("a")])
    (results_dir(bad) / "part-zero.parquet").write_bytes(b"")
    broken_meta = tmp_path / "runs" / "badmeta"
    fake_run(broken_meta, [row("a")])
    (broken_meta / "run.json").write_bytes(b"\xff\xfe{")
    df = read_history(find_runs(tmp_path / "runs"))
    err = capsys.readouterr().err
    assert "skips run" in err and "part-zero.parquet" in err and "badmeta" in err
    assert len(df) == 1 and f"skips run {good}" not in err


def test_duplicate_rows_refused_by_the_gate_and_reported_by_report(tmp_path, capsys):
    from reports.gate import gate

    base = fake_run(tmp_path / "base", [row("a"), row("b")])
    cand = fake_run(tmp_path / "cand", [row("a"), row("b"), row("a")], shards=2)
    res = gate(base, cand)                       # a gate's outcome is total: unusable input, exit 2
    assert res.exit_code == 2 and "2 rows for 1" in res.error
    load_run(cand)
    assert "2 rows for 1" in capsys.readouterr().err
    assert_one_sentence(editbench("gate", str(base), str(cand)), "refusing", code=2)


@pytest.mark.parametrize("seed", ["zero", 2**64 - 1, 1.5])
def test_wrong_typed_seed_column_is_one_sentence(tmp_path, seed):
    out = tmp_path / "o"
    _Writer(out, every=1, seconds=1e9).add(row("a", seed=seed))  # Parquet or fallback, as it comes
    with pytest.raises(EditbenchError, match="seed"):
        read_results(out)


def test_non_utf8_run_json_is_one_sentence(tmp_path):
    out = fake_run(tmp_path / "o", [row("a")])
    (out / "run.json").write_bytes(b"{\"run_id\": \"\xff\"}")
    assert_one_sentence(editbench("report", str(out)), "run.json", "UTF-8")


def test_error_messages_are_plain_text_type_first():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("\x1b[31msaving failed\x1b[0m\n  at line 3") from inner
    except RuntimeError as e:
        msg = one_line(e)
    assert msg.startswith("RuntimeError: saving failed") and "\x1b" not in msg and "\n" not in msg
    assert "No space left on device" in msg


def test_leaderboard_says_which_pipeline_has_fewer_rows_than_planned(tmp_path):
    import json

    from reports.write import write_report

    out = fake_run(tmp_path / "o", [row("a", "p", 0), row("a", "q", 0), row("a", "q", 1)])
    meta = json.loads((out / "run.json").read_text())
    meta["jobs"] = {"planned": [["a", p, s] for p in ("p", "q") for s in (0, 1)]}
    (out / "run.json").write_text(json.dumps(meta))
    text = write_report(out, html=False)
    assert "pipeline p has 1 of its 2 planned rows (missing seeds [1])" in text
    assert "pipeline q has" not in text
