"""Hosted pipelines (``gpt-image``) against a loopback server speaking the images edit protocol
(tests/pipelines/hosted_server.py), through the real ``openai`` client: retries and their count, the
mask and size conversions, refusals as error rows, cost, concurrency on one actor, and the key kept
out of every output."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from harness.contract.spec import PipelineSpec, RunSpec
from harness.core.errors import EditbenchError
from harness.execution.runner import in_flight, plan_actors
from harness.execution.worker import Job, Worker
from harness.pipelines.base import build_pipeline
from harness.pipelines.gpt_image import mask_png
from harness.pipelines.hosted import (
    HostedError,
    Reply,
    RequestFailed,
    backoff_delay,
    call_with_retries,
    fit,
    parse_retry_after,
    service_size,
    unfit,
)
from tasks.schema import Task
from tests.pipelines.conftest import HOSTED_KEY_ENV
from tests.pipelines.hosted_server import EDIT_COLOR, SLOW_S, EditServer

ROOT = Path(__file__).resolve().parents[2]
PRICE = 0.04
# Per scenario: (status, requests the job makes) with max_attempts=3 and timeout_s below SLOW_S.
EXPECTED = {"ok": ("ok", 1), "ratelimit": ("ok", 3), "flaky": ("ok", 2), "slow": ("ok", 2),
            "refuse": ("error", 1), "malformed": ("error", 1), "down": ("error", 3), "leak": ("error", 1)}
BOX = [16, 12, 40, 30]   # x0, y0, x1, y1 on the 64x48 test image


def key() -> str:
    return os.environ[HOSTED_KEY_ENV]


@pytest.fixture
def server(hosted_server):
    return hosted_server


def gpt_spec(server: EditServer, **options) -> PipelineSpec:
    return PipelineSpec(name="gpt-image", options={
        "base_url": server.base_url, "api_key_env": HOSTED_KEY_ENV, "timeout_s": SLOW_S / 2.5, "max_attempts": 3,
        "backoff_s": 0.05, "backoff_max_s": 0.2, "price_per_image": PRICE, **options})


def task(image_file, scenario: str, **kw) -> Task:
    return Task(task_id=scenario, suite="hosted", kind="inpaint", image=str(image_file), mask={"box": BOX},
                prompt=f"fill the box {scenario}", **kw)


def server_attempts(server: EditServer, task_id: str, seed: int) -> int:
    """Requests the server counted for the one job of (task, seed)."""
    jobs = {j: n for j, n in server.attempts().items() if j.startswith(f"{task_id}:s{seed}:")}
    assert len(jobs) == 1, jobs
    return next(iter(jobs.values()))


# ---- retries, sizes and masks as functions ---------------------------------------------------------

def test_backoff_is_jittered_exponential_and_never_shorter_than_retry_after():
    rng = random.Random(0)
    for retry in range(1, 8):
        ceiling = min(10.0, 0.5 * 2 ** (retry - 1))
        waits = [backoff_delay(retry, base=0.5, cap=10.0, retry_after=None, rng=rng) for _ in range(200)]
        assert 0 <= min(waits) and max(waits) <= ceiling
        assert max(waits) > 0.5 * ceiling              # spread over the range, not a constant
        assert all(backoff_delay(retry, base=0.5, cap=10.0, retry_after=7.0, rng=rng) >= 7.0 for _ in range(50))


def test_call_with_retries_counts_requests_and_stops_on_permanent_failures():
    sleeps: list[float] = []
    answers = [RequestFailed("busy", status=429, retryable=True, retry_after=2.5),
               RequestFailed("oops", status=500, retryable=True), Reply(np.zeros((2, 2, 3), np.uint8), request_id="r3")]
    calls = []

    def send(n):
        calls.append(n)
        a = answers[n - 1]
        if isinstance(a, Exception):
            raise a
        return a

    reply, extras = call_with_retries(send, max_attempts=5, base=0.1, cap=1.0, max_retry_after=10, sleep=sleeps.append,
                                      rng=random.Random(1))
    assert calls == [1, 2, 3] and extras == {"http_attempts": 3, "http_status": 200, "request_id": "r3"}
    assert sleeps[0] >= 2.5 and sleeps[1] <= 0.2     # Retry-After honoured, then the backoff ceiling

    def refuse(n):
        raise RequestFailed("no", status=400, request_id=f"r{n}")

    with pytest.raises(HostedError) as e:
        call_with_retries(refuse, max_attempts=5, base=0.1, cap=1.0, max_retry_after=10, sleep=sleeps.append)
    assert e.value.extras == {"http_attempts": 1, "http_status": 400, "request_id": "r1"}

    def too_long(n):
        raise RequestFailed("busy", status=429, retryable=True, retry_after=3600)

    with pytest.raises(HostedError, match="max_retry_after_s") as e:
        call_with_retries(too_long, max_attempts=5, base=0.1, cap=1.0, max_retry_after=60, sleep=sleeps.append)
    assert e.value.extras["http_attempts"] == 1

    def secret(n):
        raise RequestFailed("key sk-SECRET-123 rejected", status=401)

    with pytest.raises(HostedError) as e:
        call_with_retries(secret, max_attempts=2, base=0, cap=0, max_retry_after=1, secret="sk-SECRET-123")
    assert "sk-SECRET-123" not in str(e.value) and "[redacted]" in str(e.value)


def test_parse_retry_after():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0   # a date in the past


@pytest.mark.parametrize("hw, sizes, expected", [
    ((48, 64), ["1024x1024", "1536x1024", "1024x1536"], "1536x1024"),
    ((640, 480), ["1024x1024", "1536x1024", "1024x1536"], "1024x1536"),
    ((300, 310), ["1024x1024", "1536x1024", "1024x1536"], "1024x1024"),
    ((200, 200), ["256x256", "512x512", "1024x1024"], "256x256"),
    ((600, 500), ["256x256", "512x512", "1024x1024"], "1024x1024"),
    ((2000, 2000), ["256x256", "512x512", "1024x1024"], "1024x1024"),
])
def test_service_size_is_the_closest_aspect_that_covers_the_canvas(hw, sizes, expected):
    assert service_size(hw, sizes) == expected


def test_fit_letterboxes_keeps_the_border_and_unfit_inverts_it(image_file):
    canvas = np.asarray(Image.open(image_file).convert("RGB"))
    mask = np.zeros(canvas.shape[:2], bool)
    mask[12:30, 16:40] = True
    img, m, (y0, x0, y1, x1) = fit(canvas, mask, (1024, 1024))      # 64x48 into a square: bands above and below
    assert img.shape == (1024, 1024, 3) and m.shape == (1024, 1024)
    assert (x0, x1) == (0, 1024) and y0 > 0 and y1 < 1024 and (y1 - y0) / (x1 - x0) == pytest.approx(48 / 64, abs=0.01)
    assert not m[:y0].any() and not m[y1:].any()                       # padding is never edited
    assert m.sum() / ((y1 - y0) * (x1 - x0)) == pytest.approx(mask.mean(), abs=0.01)
    back = unfit(img, (y0, x0, y1, x1), canvas.shape[:2])
    assert back.shape == canvas.shape
    assert np.abs(back.astype(int) - canvas).mean() < 4


def test_mask_png_is_transparent_where_the_service_edits():
    mask = np.zeros((4, 5), bool)
    mask[1:3, 2:4] = True
    import io

    rgba = np.asarray(Image.open(io.BytesIO(mask_png(mask))))
    assert rgba.shape == (4, 5, 4)
    np.testing.assert_array_equal(rgba[..., 3] == 0, mask)


# ---- the adapter against the loopback server, one job at a time (no Ray) ---------------------------

def test_each_scenario_gives_one_row_with_the_attempts_the_server_counted(server, image_file, tmp_path):
    spec = gpt_spec(server)
    worker = Worker(spec, ["cost"], out=str(tmp_path), run_id="r", suite="hosted")
    assert worker.ping() == "ok"
    canvas = np.asarray(Image.open(image_file).convert("RGB"))
    for scenario, (status, requests) in EXPECTED.items():
        rec = worker.run(Job(task(image_file, scenario), spec, seed=0))
        assert rec["status"] == status, (scenario, rec["error"])
        assert rec["http_attempts"] == server_attempts(server, scenario, 0) == requests, scenario
        assert rec["request_id"].startswith("req_")
        assert key() not in json.dumps(rec, default=str)
        if status == "ok":
            assert rec["http_status"] == 200 and rec["cost.usd"] == PRICE == rec["cost_usd"]
            out = np.asarray(Image.open(tmp_path / rec["output_path"]))
            assert out.shape == canvas.shape
            x0, y0, x1, y1 = BOX
            inner = out[y0 + 2:y1 - 2, x0 + 2:x1 - 2].reshape(-1, 3)       # the server paints what the mask frees
            assert (np.abs(inner.astype(int) - EDIT_COLOR).max(axis=1) < 40).mean() > 0.95
            keep = np.ones(canvas.shape[:2], bool)
            keep[y0 - 2:y1 + 2, x0 - 2:x1 + 2] = False
            assert np.abs(out[keep].astype(int) - canvas[keep]).mean() < 4  # the rest comes back in place
        else:
            assert rec["output_path"] is None and math.isnan(rec.get("cost.usd", math.nan))
    silent = worker.run(Job(task(image_file, "ok").model_copy(update={"task_id": "no-prompt", "prompt": ""}), spec, seed=0))
    assert "has no prompt" in silent["error"] and silent["http_attempts"] == 0 and "no-prompt:s0:" not in str(server.attempts())
    rows = {s: worker.run(Job(task(image_file, s), spec, seed=1)) for s in ("refuse", "down", "malformed", "leak")}
    assert "refused the request [moderation_blocked]" in rows["refuse"]["error"]
    assert rows["refuse"]["http_status"] == 400 and rows["down"]["http_status"] == 503
    assert "malformed" in rows["malformed"]["error"]
    assert "[redacted]" in rows["leak"]["error"] and key() not in rows["leak"]["error"]


def test_requests_that_never_reach_the_service_are_not_counted(image_file, tmp_path):
    import socket

    with socket.socket() as sock:            # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = PipelineSpec(name="gpt-image", options={"base_url": f"http://127.0.0.1:{port}/v1", "api_key_env": HOSTED_KEY_ENV,
                                                   "max_attempts": 2, "backoff_s": 0.01})
    rec = Worker(spec, [], out=str(tmp_path), run_id="r", suite="hosted").run(Job(task(image_file, "ok"), spec, seed=0))
    assert rec["status"] == "error" and "connection failed (ConnectError)" in rec["error"] and "after 2 tries" in rec["error"]
    assert rec["http_attempts"] == 0 and rec["http_status"] is None and rec["request_id"] is None


def test_retry_after_is_honoured_between_a_jobs_requests(server, image_file, tmp_path):
    spec = gpt_spec(server)
    worker = Worker(spec, [], out=str(tmp_path), run_id="r", suite="hosted")
    rec = worker.run(Job(task(image_file, "ratelimit"), spec, seed=7))
    assert rec["status"] == "ok" and rec["http_attempts"] == 3
    times = sorted(t for job, _, _, _, t in server.requests if job.startswith("ratelimit:s7:"))
    assert len(times) == 3 and all(b - a >= 1.0 for a, b in zip(times, times[1:]))   # Retry-After: 1


def test_client_environment_variables_work_without_options(server, image_file, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", key())
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    p = build_pipeline(PipelineSpec(name="gpt-image", options={"model": "dall-e-2"}))
    p.check()
    p.load()
    out = p.run(task(image_file, "ok"), 0)
    assert out.extras["http_attempts"] == 1 and out.extras["service_size"] == "256x256"
    assert math.isnan(out.extras["cost_usd"])                            # no price table: unknown, not free
    assert key() not in json.dumps(p.describe())


def test_options_are_checked_before_any_work(monkeypatch):
    monkeypatch.delenv("EDITBENCH_NO_SUCH_KEY", raising=False)
    p = build_pipeline(PipelineSpec(name="gpt-image", options={"api_key_env": "EDITBENCH_NO_SUCH_KEY"}))
    with pytest.raises(EditbenchError, match="environment variable EDITBENCH_NO_SUCH_KEY, which is not set"):
        p.check()
    with pytest.raises(EditbenchError, match="size '512x512' is not one"):
        build_pipeline(PipelineSpec(name="gpt-image", options={"size": "512x512"}))
    with pytest.raises(EditbenchError, match=r"price_per_size names sizes \['512x512'\]"):
        build_pipeline(PipelineSpec(name="gpt-image", options={"price_per_size": {"512x512": 0.02}}))
    with pytest.raises(EditbenchError, match="set `size` instead of `resolution`"):
        build_pipeline(PipelineSpec(name="gpt-image", options={"resolution": 512}))


def test_missing_key_is_a_one_sentence_exit_2(tmp_path, image_file):
    suite = {"name": "hosted-cli", "version": "1", "data_root": str(image_file.parent), "seeds": [0],
             "tasks": [{"task_id": "t", "kind": "inpaint", "image": image_file.name, "mask": {"box": list(BOX)},
                        "prompt": "fill"}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    res = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--suite", str(tmp_path / "suite.yaml"),
                          "--pipelines", "gpt-image", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "OPENAI_API_KEY" in lines[0] and "Traceback" not in res.stderr
    assert not (tmp_path / "o" / "results").exists()


def test_hosted_pipelines_run_concurrently_on_one_actor():
    spec = RunSpec(suite="x", queue_depth=2).execution
    hosted, floor = PipelineSpec(name="gpt-image"), PipelineSpec(name="cv2-telea")
    assert in_flight(spec, hosted) == (8, True) and in_flight(spec, floor) == (2, False)
    assert in_flight(spec, hosted.model_copy(update={"concurrency": 3})) == (3, True)
    plan = plan_actors(spec, [hosted, floor], {"CPU": 16.0})
    assert plan.actors == {"gpt-image": 1, "cv2-telea": 8}


# ---- the smoke run: gpt-image beside cv2-telea through the Ray runner -------------------------------

def test_smoke_run_beside_a_local_pipeline(server, image_file, tmp_path):
    from harness.contract.results import read_results
    from harness.workflow import run

    scenarios = ["ok", "ratelimit", "flaky", "slow", "refuse", "malformed"]
    suite = {"name": "hosted-smoke", "version": "1", "data_root": str(image_file.parent), "seeds": [0, 1],
             "tasks": [{"task_id": f"smoke-{s}", "kind": "inpaint", "image": image_file.name, "mask": {"box": list(BOX)},
                        "prompt": f"fill the box {s}"} for s in scenarios]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    # dall-e-2's 256x256 keeps the loopback server's PNG work small next to Ray on a small machine.
    gpt = gpt_spec(server, model="dall-e-2").model_copy(update={"concurrency": 8})
    spec = RunSpec(suite=str(tmp_path / "suite.yaml"), pipelines=[gpt, PipelineSpec(name="cv2-telea")],
                   scorers=["cost", "latency"], address="local")
    server.max_inflight = 0
    out = run(spec, out=tmp_path / "run", progress=False)

    df = read_results(out)
    assert len(df) == len(scenarios) * 2 * 2 and not df.duplicated(["task_id", "pipeline", "seed"]).any()
    floor = df[df["pipeline"] == "cv2-telea"]
    assert (floor["status"] == "ok").all() and floor["cost.usd"].isna().all()
    hosted = df[df["pipeline"] == "gpt-image"].set_index(["task_id", "seed"])
    for (task_id, seed), row in hosted.iterrows():
        status, requests = EXPECTED[task_id.removeprefix("smoke-")]
        assert row["status"] == status, (task_id, row["error"])
        assert row["http_attempts"] == server_attempts(server, task_id, seed) == requests, (task_id, seed)
    assert "moderation_blocked" in hosted.loc[("smoke-refuse", 0), "error"]
    ok = hosted[hosted["status"] == "ok"]
    assert (ok["cost.usd"] == PRICE).all()

    # One actor served the hosted jobs, with requests in flight at the same time.
    meta = json.loads((out / "run.json").read_text())
    assert meta["attempts"][-1]["actors"]["gpt-image"] == 1
    assert sum(server_attempts(server, f"smoke-{s}", seed) for s in scenarios for seed in (0, 1)) == \
        sum(EXPECTED[s][1] for s in scenarios) * 2
    assert server.max_inflight >= 2

    # Cost: role cost in run.json, summed in the leaderboard beside latency.
    assert meta["metrics"]["cost.usd"]["role"] == "cost" and meta["metrics"]["cost.usd"]["unit"] == "USD"
    board = (out / "leaderboard.md").read_text()
    line = next(ln for ln in board.splitlines() if ln.startswith("| gpt-image "))
    assert f"total {len(ok) * PRICE:.4g}" in line
    assert "cost.usd ↓" in board

    # The key is in no file of the run (rows, run.json, leaderboard, outputs).
    secret = key().encode()
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > len(df) // 2
    assert [p for p in files if secret in p.read_bytes()] == []
    assert HOSTED_KEY_ENV in json.dumps(meta)      # the variable's name is recorded, never its value


def test_cost_is_reported_but_gated_only_when_gates_yaml_names_it():
    import pandas as pd

    from harness.contract.results import ResultRow
    from reports.gate import GateConfig, MetricRule, compare

    def rows(price):
        return pd.DataFrame([ResultRow(run_id="r", suite="s", task_id=f"t{i}", kind="inpaint", pipeline="gpt-image",
                                       seed=s, latency_ms=100.0, metrics={"cost.usd": price, "seam.score": 0.1 * i},
                                       extras={"cost_usd": price}).to_record() for i in range(4) for s in (0, 1)])

    res = compare(rows(0.04), rows(0.08))
    cost = next(m for m in res.metrics if m.metric == "cost.usd")
    assert cost.verdict == "regressed" and not cost.gated and res.passed
    named = compare(rows(0.04), rows(0.08), config=GateConfig(metrics={"cost.usd": MetricRule()}))
    assert not named.passed and [m.metric for m in named.regressed] == ["cost.usd"]
