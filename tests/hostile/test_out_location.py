"""``--out`` is validated before any work: empty, malformed URIs and unknown schemes are one sentence, exit 2,
and an unreachable object store answers within seconds."""

from __future__ import annotations

import os

import pytest

from harness.core.errors import EditbenchError
from harness.core.storage import Location, check_out, probe_writable
from tests.hostile.helpers import ROOT, assert_one_sentence, editbench, toy_suite


@pytest.mark.parametrize("out, needle", [
    ("", "--out is empty"), ("   ", "--out is empty"), ("s3:/bucket/x", "not a valid s3:// URI"),
    ("s3://", "not a valid s3:// URI"), ("gs:bucket", "not a valid gs:// URI"), ("file:///tmp/x", "without file://"),
    ("ftp://host/x", "scheme ftp:"), ("s3://Bad_Bucket!/x", "not a valid s3:// URI"), ("a" * 2000, "over 1024"),
])
def test_bad_out_locations_are_one_sentence(out, needle):
    with pytest.raises(EditbenchError, match=needle):
        check_out(out)


def test_good_out_locations_pass():
    for out in ("runs/x", "/tmp/x", "s3://bucket/prefix/run", "gs://my-bucket", "./s3:/x"):
        assert check_out(out) == out


def test_cli_refuses_a_malformed_out_before_any_work(tmp_path):
    suite = toy_suite(tmp_path / "s.yaml", ["a"])
    for out in ("s3:/bucket/x", "s3://", ""):
        res = editbench("run", "--suite", str(suite), "--out", out)
        assert_one_sentence(res, "--out")
    assert not (ROOT / "s3:").exists()        # the commands run in ROOT: no local folder named after the URI


def test_an_unreachable_object_store_answers_within_seconds(monkeypatch):
    import threading

    loc = Location("gs://editbench-unreachable/x")
    hang = threading.Event()
    monkeypatch.setattr(loc, "write_bytes", lambda *a, **k: hang.wait(60))   # an offline client retrying
    with pytest.raises(EditbenchError, match="did not answer a test write within 0.5 s"):
        probe_writable(loc, timeout_s=0.5)
    hang.set()


def test_offline_gs_out_is_one_sentence_within_the_probe_limit(tmp_path):
    suite = toy_suite(tmp_path / "s.yaml", ["a"])
    env = {**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "none.json"),
           "CLOUDSDK_CORE_PROJECT": "none", "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9"}
    res = editbench("run", "--suite", str(suite), "--out", "gs://editbench-offline/run", env=env)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert "gs://editbench-offline/run" in res.stderr
