"""Credentials belong to services, not suites: a suite or run spec file that chooses an endpoint or a key
variable is refused (unless the operator trusts that file), key variables are limited to the service's
own or the operator's, and keys are redacted from the whole error text and from stored headers."""

from __future__ import annotations

import http.server
import os
import threading

import numpy as np
import pytest
import yaml
from PIL import Image

from harness.contract.spec import PipelineSpec, RunSpec, load_run_spec
from harness.core.credentials import Operator, check_file_options, looks_operator_only, operator, operator_only_fields
from harness.core.errors import EditbenchError
from harness.execution.runner import build_manifest
from harness.pipelines.gpt_image import GptImage, GptImageOptions
from harness.pipelines.hosted import HostedError, RequestFailed, call_with_retries
from tests.hostile.helpers import assert_one_sentence, editbench

ATTACK = {"name": "gpt-image", "options": {"base_url": "http://127.0.0.1:1/v1", "api_key_env": "AWS_SECRET_ACCESS_KEY"}}


@pytest.fixture
def listener():
    """A loopback HTTP server that records every request it receives (none must arrive)."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


def hosted_suite(tmp_path, pipelines) -> str:
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "img.png")
    doc = {"name": "cred", "version": "1", "pipelines": pipelines, "seeds": [0], "scorers": [],
           "tasks": [{"task_id": "t", "kind": "inpaint", "image": "img.png", "mask": {"box": [4, 4, 20, 20]},
                      "prompt": "fill"}]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def test_a_suite_choosing_endpoint_and_key_variable_is_refused_before_any_request(tmp_path, listener):
    url, seen = listener
    suite = hosted_suite(tmp_path, [{**ATTACK, "options": {**ATTACK["options"], "base_url": url}}])
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": "aws-secret-do-not-send", "OPENAI_API_KEY": "sk-test"}
    res = editbench("run", "--suite", suite, "--out", str(tmp_path / "o"), "--no-progress", env=env)
    assert_one_sentence(res, "suite.yaml", "base_url", "api_key_env", "--allow-endpoints")
    assert seen == [] and not (tmp_path / "o").exists()


def test_a_run_spec_file_is_data_too(tmp_path, listener):
    url, seen = listener
    suite = hosted_suite(tmp_path, ["gpt-image"])
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"suite": suite, "pipelines": [{"name": "gpt-image", "options": {"base_url": url}}]}))
    res = editbench("run", str(spec), "--out", str(tmp_path / "o"), "--no-progress",
                    env={**os.environ, "OPENAI_API_KEY": "sk-test"})
    assert_one_sentence(res, "spec.yaml", "base_url")
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"suite": suite, "pipelines": ["gpt-image"], "grid": {"base_url": [url]}}))
    with pytest.raises(EditbenchError, match="grid of pipeline gpt-image sets base_url"):
        build_manifest(load_run_spec(grid), spec_file=grid)
    assert seen == []


def test_an_allowed_file_may_set_the_endpoint_but_only_allowed_key_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("EDITBENCH_GATEWAY_KEY", "gw-test")
    suite = hosted_suite(tmp_path, [ATTACK])
    trusted = operator(allow_endpoints=[suite])
    with pytest.raises(EditbenchError, match="reads its key from 'AWS_SECRET_ACCESS_KEY'; only OPENAI_API_KEY"):
        build_manifest(RunSpec(suite=suite), operator=trusted)
    ok = hosted_suite(tmp_path, [{"name": "gpt-image", "options": {"base_url": "http://127.0.0.1:1/v1",
                                                                   "api_key_env": "EDITBENCH_GATEWAY_KEY"}}])
    with pytest.raises(EditbenchError, match="EDITBENCH_GATEWAY_KEY"):
        build_manifest(RunSpec(suite=ok), operator=trusted)
    m = build_manifest(RunSpec(suite=ok), operator=operator(allow_endpoints=[ok], key_envs=["EDITBENCH_GATEWAY_KEY"]))
    assert m.pipelines[0].options["api_key_env"] == "EDITBENCH_GATEWAY_KEY"
    # Trusting another file does not trust this one.
    with pytest.raises(EditbenchError, match="never from a suite or run spec file"):
        build_manifest(RunSpec(suite=ok), operator=operator(allow_endpoints=[tmp_path / "other.yaml"]))


def test_the_operator_config_supplies_endpoint_and_key_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITBENCH_GATEWAY_KEY", "gw-test")
    suite = hosted_suite(tmp_path, ["gpt-image"])
    cfg = tmp_path / "operator.yaml"
    cfg.write_text(yaml.safe_dump({"pipelines": {"gpt-image": {"base_url": "http://127.0.0.1:9/v1",
                                                                "api_key_env": "EDITBENCH_GATEWAY_KEY"}}}))
    op = operator(config=yaml.safe_load(cfg.read_text()), config_path=cfg)
    m = build_manifest(RunSpec(suite=suite), operator=op)
    assert m.pipelines[0].options == {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "EDITBENCH_GATEWAY_KEY"}
    with pytest.raises(EditbenchError, match="unknown keys"):
        operator(config={"base_url": "x"}, config_path=cfg)
    # From the command line: a bad config is one sentence too.
    cfg.write_text("pipelines: [1, 2]\n")
    res = editbench("run", "--suite", suite, "--out", str(tmp_path / "o"), "--operator-config", str(cfg))
    assert_one_sentence(res, "operator config", "pipelines must map")


def test_options_are_marked_and_names_that_read_as_credentials_are_caught():
    assert {"base_url", "api_key_env"} <= operator_only_fields(GptImageOptions)
    assert looks_operator_only("judge_endpoint") and looks_operator_only("auth_token")
    assert not looks_operator_only("price_per_1m_input_tokens") and not looks_operator_only("steps")
    # A component that forgot to mark its field is still covered, nested mappings included.
    with pytest.raises(EditbenchError, match="client.proxy_url"):
        check_file_options({"client": {"proxy_url": "http://x"}}, model=None, source="s.yaml", what="scorer judge",
                           operator=Operator())


class _Raises:
    """A stand-in for the openai client whose edit call raises ``error``."""

    def __init__(self, error):
        self.images = self
        self.with_raw_response = self
        self.error = error

    def edit(self, **kwargs):
        raise self.error


def test_a_key_quoted_late_in_a_long_message_and_in_request_id_is_redacted():
    import httpx
    import openai

    key = "sk-" + "k" * 117
    message = "x" * 390 + f" you sent {key} which is bad"
    resp = httpx.Response(400, request=httpx.Request("POST", "http://127.0.0.1/v1/images/edits"),
                          json={"error": {"message": message}}, headers={"x-request-id": f"req-{key}"})
    error = openai.BadRequestError(message, response=resp, body={"message": message, "code": "bad"})
    p = GptImage(PipelineSpec(name="gpt-image"))
    p._secret, p.client = key, _Raises(error)
    task = type("T", (), {"task_id": "t", "prompt": "fill", "instruction": None})()
    img = np.zeros((1024, 1024, 3), np.uint8)
    with pytest.raises(RequestFailed) as info:
        p.request(img, np.zeros((1024, 1024), bool), task, size="1024x1024", attempt=1, client_request_id="c")
    assert "k" * 20 not in str(info.value) and "[redacted]" in str(info.value)
    assert info.value.request_id == "req-[redacted]"

    def send(_):
        raise RequestFailed(f"failed: {'y' * 600} {key}", status=400, request_id=key)

    with pytest.raises(HostedError) as failed:
        call_with_retries(send, max_attempts=1, base=0, cap=0, max_retry_after=0, secret=key)
    assert key not in str(failed.value) and failed.value.extras["request_id"] == "[redacted]"


def test_the_judge_scorer_follows_the_same_rule(tmp_path, monkeypatch):
    from scorers.judge import JudgeOptions

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert {"base_url", "api_key_env"} <= operator_only_fields(JudgeOptions)
    suite = hosted_suite(tmp_path, ["gpt-image"])
    doc = yaml.safe_load(open(suite))
    doc.update(scorers=["judge"], scorer_options={"judge": {"base_url": "http://127.0.0.1:1/v1",
                                                            "api_key_env": "AWS_SECRET_ACCESS_KEY"}})
    open(suite, "w").write(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(EditbenchError, match="scorer judge sets base_url, api_key_env"):
        build_manifest(RunSpec(suite=suite))
    doc.pop("scorer_options")
    open(suite, "w").write(yaml.safe_dump(doc, sort_keys=False))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"suite": suite, "scorers": ["judge"],
                                    "scorer_options": {"judge": {"api_key_env": "AWS_SECRET_ACCESS_KEY"}}}))
    with pytest.raises(EditbenchError, match="spec.yaml: scorer judge sets api_key_env"):
        build_manifest(load_run_spec(spec), spec_file=spec)
