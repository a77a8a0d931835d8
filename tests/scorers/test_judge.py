"""The judge scorer against a loopback chat-completions server (tests/scorers/judge_server.py), through
the real ``openai`` client: answers well-formed, in prose, malformed, out of range, refused, filtered;
429 with Retry-After, 500, a slow answer past the timeout, another reported model, a server that stays
down; the cache proven by the server's request counts; the strict parser; the key kept out of files."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from harness.core.errors import EditbenchError
from scorers.judge import ImgEditJudgeScorer, Judge, JudgeOptions, JudgeScorer
from scorers.judge_protocols import PAIRWISE, VIESCORE, Unparsable, parse_answer
from tests.scorers.conftest import JUDGE_KEY_ENV

RNG = np.random.default_rng(0)
SOURCE = RNG.integers(0, 200, (48, 64, 3), dtype=np.uint8)
EDITED = np.clip(SOURCE.astype(int) + 51, 0, 255).astype(np.uint8)   # mean |diff| 51 -> edit_success 2


def scorer(judge_options, tmp_path, cls=JudgeScorer, **kw):
    s = cls(**{**judge_options, "cache_dir": str(tmp_path / "cache"), **kw})
    s.check()
    s.load()
    return s


def judge_row(s, task_of, out_of, instruction: str, image=EDITED):
    task = task_of(SOURCE, kind="instruct", instruction=instruction)
    (vals, ev), = s.score_rows([task], [out_of(image)])
    return vals, ev


def test_a_well_formed_answer_gives_sc_pq_and_o_with_the_evidence(judge_server, judge_options, tmp_path, task_of, out_of):
    s = scorer(judge_options, tmp_path)
    before = judge_server.calls()
    vals, ev = judge_row(s, task_of, out_of, "make it ok brighter")
    assert judge_server.calls() - before == 1
    # edit_success 2, overediting 8 -> SC 2; naturalness 7, artifacts 9 -> PQ 7; O = sqrt(14)
    assert vals["sc_edit"] == 2 and vals["sc_overedit"] == 8 and vals["sc"] == 2
    assert vals["pq_natural"] == 7 and vals["pq_artifacts"] == 9 and vals["pq"] == 7
    assert vals["overall"] == pytest.approx(math.sqrt(14))
    assert math.isnan(vals["overall_spread"])    # one repeat
    assert ev["judge_model"] == ev["judge_model_reported"] == "judge-test-1"
    assert ev["judge_protocol"] == "viescore@1" and ev["judge_reason"] is None
    assert ev["judge_tokens_in"] == 1000 and ev["judge_tokens_out"] == 50 and ev["judge_calls"] == 1
    assert '"edit_success": 2' in ev["judge_answer"]
    assert math.isnan(ev["judge_cost_usd"])      # no price given: unknown, never 0
    body = judge_server.bodies[-1]
    assert body["temperature"] == 0 and body["model"] == "judge-test-1"
    assert body["response_format"]["type"] == "json_schema"
    parts = body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert "make it ok brighter" in parts[0]["text"]


def test_the_judge_sees_the_pixels(judge_options, tmp_path, task_of, out_of):
    s = scorer(judge_options, tmp_path)
    same, _ = judge_row(s, task_of, out_of, "ok keep it", image=SOURCE)
    changed, _ = judge_row(s, task_of, out_of, "ok keep it", image=255 - SOURCE)
    assert same["sc_edit"] == 0 and changed["sc_edit"] > 3


@pytest.mark.parametrize("scenario,reason,calls", [
    ("malformed", "unparsable", 1), ("outofrange", "unparsable", 1), ("refuse", "refusal", 1),
    ("filtered", "filtered", 1), ("down", "error", 3)])
def test_failed_judgments_are_nan_with_a_reason_never_zero(judge_server, judge_options, tmp_path, task_of, out_of,
                                                            scenario, reason, calls):
    s = scorer(judge_options, tmp_path, max_attempts=3)
    before = judge_server.by_scenario()[scenario]
    vals, ev = judge_row(s, task_of, out_of, f"make it {scenario}")
    assert judge_server.by_scenario()[scenario] - before == calls
    assert all(math.isnan(v) for v in vals.values()), vals
    assert ev["judge_reason"] == reason and ev["judge_detail"]
    assert ev["judge_parsed"] == 0
    if reason == "refusal":
        assert "can't help" in ev["judge_answer"]


@pytest.mark.parametrize("scenario,calls", [("prose", 1), ("ratelimit", 3), ("flaky", 2), ("slow", 2)])
def test_prose_retries_and_timeouts_end_in_a_judgment(judge_server, judge_options, tmp_path, task_of, out_of,
                                                     scenario, calls):
    s = scorer(judge_options, tmp_path, timeout_s=1.5, max_attempts=3)
    before = judge_server.by_scenario()[scenario]
    vals, ev = judge_row(s, task_of, out_of, f"please {scenario} now")
    assert judge_server.by_scenario()[scenario] - before == calls
    assert ev["judge_reason"] is None and vals["sc"] == 2 and ev["judge_calls"] == calls
    if scenario == "prose":
        assert ev["judge_detail"] == "JSON found inside prose"


def test_the_model_the_server_reports_is_recorded_beside_the_requested_one(judge_options, tmp_path, task_of, out_of):
    _, ev = judge_row(scorer(judge_options, tmp_path), task_of, out_of, "othermodel edit")
    assert ev["judge_model"] == "judge-test-1" and ev["judge_model_reported"] == "other-model-2"


def test_the_cache_makes_a_second_judgment_free_and_keys_on_what_matters(judge_server, judge_options, tmp_path,
                                                                        task_of, out_of):
    s = scorer(judge_options, tmp_path)
    judge_row(s, task_of, out_of, "cache me")
    before = judge_server.calls()
    again = scorer(judge_options, tmp_path)          # a new process reads the same cache folder
    vals, ev = judge_row(again, task_of, out_of, "cache me")
    assert judge_server.calls() == before and ev["judge_calls"] == 0 and ev["judge_cached"]
    assert vals["sc"] == 2
    judge_row(again, task_of, out_of, "cache me", image=EDITED[::-1].copy())      # other pixels
    judge_row(again, task_of, out_of, "cache me too")                             # other instruction
    judge_row(scorer(judge_options, tmp_path, model="judge-test-2"), task_of, out_of, "cache me")   # other model
    judge_row(scorer(judge_options, tmp_path, temperature=0.7), task_of, out_of, "cache me")        # other sampling
    assert judge_server.calls() - before == 4
    down = scorer(judge_options, tmp_path, max_attempts=1)
    judge_row(down, task_of, out_of, "down again")
    judge_row(down, task_of, out_of, "down again")   # a transport failure is never cached
    assert judge_server.by_scenario()["down"] >= 2
    key = os.environ[JUDGE_KEY_ENV]
    for p in (tmp_path / "cache").rglob("*"):
        if p.is_file():
            assert key not in p.read_text()


def test_repeats_report_their_spread(judge_server, judge_options, tmp_path, task_of, out_of):
    s = scorer(judge_options, tmp_path, n=3, temperature=0.5)
    before = judge_server.calls()
    vals, ev = judge_row(s, task_of, out_of, "repeat it")
    assert judge_server.calls() - before == 3 and ev["judge_parsed"] == 3
    assert vals["overall_spread"] == 0.0      # the stand-in server answers the same every time


def test_imgedit_protocol(judge_options, tmp_path, task_of, out_of):
    s = scorer(judge_options, tmp_path, cls=ImgEditJudgeScorer)
    vals, ev = judge_row(s, task_of, out_of, "imgedit please")
    assert ev["judge_imgedit_protocol"] == "imgedit@1"
    assert (vals["compliance"], vals["naturalness"], vals["integrity"]) == (2, 4, 5)
    assert vals["overall"] == pytest.approx(11 / 3)


def test_no_instruction_is_nan_without_a_request(judge_server, judge_options, tmp_path, task_of, out_of):
    s = scorer(judge_options, tmp_path)
    before = judge_server.calls()
    vals, ev = judge_row(s, task_of, out_of, "")
    assert judge_server.calls() == before and ev["judge_reason"] == "no_instruction" and math.isnan(vals["overall"])


def test_the_key_comes_from_the_environment_only(monkeypatch, judge_options):
    monkeypatch.delenv("EDITBENCH_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(EditbenchError, match="EDITBENCH_TEST_NO_SUCH_KEY"):
        JudgeScorer(**{**judge_options, "api_key_env": "EDITBENCH_TEST_NO_SUCH_KEY"}).check()
    for field in ("api_key", "key", "openai_api_key"):
        with pytest.raises(EditbenchError, match=field):
            JudgeScorer(**{field: "sk-x"})


def test_pins_and_signature_follow_the_settings(judge_options):
    a, b = JudgeScorer(**judge_options), JudgeScorer(**{**judge_options, "model": "judge-test-2"})
    assert a.pins()["model"] == "judge-test-1" and a.pins()["protocol_version"] == VIESCORE.version
    assert a.signature() != b.signature()
    assert a.signature() == JudgeScorer(**{**judge_options, "concurrency": 9, "timeout_s": 5}).signature()


@pytest.mark.parametrize("text,fault", [
    ("", "empty"), ("7/10", "no well-formed"), ('{"edit_success": "8", "overediting": 8, "naturalness": 7, '
                                                '"artifacts": 9}', "not a number"),
    ('{"edit_success": true, "overediting": 8, "naturalness": 7, "artifacts": 9}', "not a number"),
    ('{"edit_success": 8, "overediting": 8, "naturalness": 7}', "missing"),
    ('{"edit_success": 8, "overediting": 8, "naturalness": 7, "artifacts": 9, "bonus": 1}', "unexpected"),
    ('{"edit_success": 8, "overediting": 8, "naturalness": 7, "artifacts": -1}', "outside"),
    ('a {"edit_success": 1, "overediting": 1, "naturalness": 1, "artifacts": 1} b {"edit_success": 2, '
     '"overediting": 2, "naturalness": 2, "artifacts": 2}', "2 JSON objects"),
    ("[1, 2]", "not an object")])
def test_the_parser_is_strict(text, fault):
    with pytest.raises(Unparsable, match=fault):
        parse_answer(text, VIESCORE)


def test_the_parser_takes_fences_and_prose_around_one_object():
    body = '{"edit_success": 8, "overediting": 6.5, "naturalness": 7, "artifacts": 9, "reasoning": "fine"}'
    assert parse_answer(body, VIESCORE) == ({"edit_success": 8, "overediting": 6.5, "naturalness": 7,
                                             "artifacts": 9}, False)
    assert parse_answer(f"```json\n{body}\n```", VIESCORE)[1] is False
    assert parse_answer(f"My scores: {body} Done.", VIESCORE)[1] is True
    assert parse_answer('{"winner": "both_bad"}', PAIRWISE)[0] == {"winner": "both_bad"}
    with pytest.raises(Unparsable):
        parse_answer('{"winner": "LEFT"}', PAIRWISE)


def test_options_are_a_frozen_vocabulary():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        JudgeOptions(temperature=-1)
    assert JudgeOptions().model.count("-") >= 3     # the default is a dated snapshot, not a moving alias


def test_judge_ask_reuses_one_connection(judge_options, tmp_path):
    j = Judge(JudgeOptions(**{**judge_options, "cache_dir": str(tmp_path)}))
    j.connect()
    a = j.ask(VIESCORE, "ok", [SOURCE, EDITED])
    assert a.reason is None and j.requests == 1
