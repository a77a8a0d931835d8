"""The arena without a browser: vote files, pair choice, the page's JSON and images, and the report section."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from harness.contract.votes import VoteWriter, make_vote, read_vote_file, read_votes
from harness.core.errors import EditbenchError
from reports.arena_app import Arena, make_app, outline
from reports.arena_pairs import Item, load_pool, next_item
from tests.reports.arena_helpers import BOX, PIPELINES, PROMPT, arena_run


@pytest.fixture
def run(tmp_path):
    return arena_run(tmp_path)


@pytest.fixture
def client(run):
    from starlette.testclient import TestClient

    arena = Arena(load_pool([run]), seed=0)
    with TestClient(make_app(arena)) as c:
        yield c, arena


# --- votes on disk ---------------------------------------------------------------------------------

def test_votes_merge_across_files_and_a_torn_last_line_is_left_out(run):
    with VoteWriter(run, "s1") as a, VoteWriter(run, "s2") as b:
        a.append(make_vote(rater="ann", task_id="t0", seed=0, left="blend", right="gray", answer="left"))
        b.append(make_vote(rater="judge:tiny", task_id="t0", seed=0, left="gray", right="blend", answer="tie",
                           reason='says "same"\nline two'))
    with open(run / "votes" / "s2.jsonl", "ab") as f:
        f.write(b'{"rater": "bob", "ti')                      # a writer killed inside its write
    votes = read_votes(run)
    assert [(v.rater, v.answer) for v in votes] == [("ann", "left"), ("judge:tiny", "tie")]
    assert votes[1].reason == 'says "same"\nline two' and votes[0].item == votes[1].item
    assert read_vote_file(run / "votes" / "s2.jsonl")[1] == 1


def test_a_malformed_vote_line_is_one_sentence_naming_file_and_line(run):
    (run / "votes").mkdir()
    (run / "votes" / "x.jsonl").write_text('{"rater": "a", "time": "t", "task_id": "t0", "seed": 0, '
                                           '"left": "a", "right": "b", "answer": "maybe"}\n')
    with pytest.raises(EditbenchError, match=r"x\.jsonl:1: answer 'maybe' is not one of"):
        read_votes(run)


def test_vote_files_stay_inside_the_run_and_never_share_a_writer(run):
    with pytest.raises(EditbenchError):
        VoteWriter(run, "../escape")
    VoteWriter(run, "same").close()
    with pytest.raises(EditbenchError, match="exists already"):
        VoteWriter(run, "same")
    with VoteWriter(run) as w, pytest.raises(EditbenchError, match="answer"):
        w.append(make_vote(rater="a", task_id="t0", seed=0, left="blend", right="gray", answer="both"))


# --- which pair next -------------------------------------------------------------------------------

def test_pair_choice_is_balanced_and_never_repeats_for_a_rater(run):
    pool = load_pool([run])
    assert len(pool.items) == 4 * 2 * 3            # tasks x seeds x pipeline pairs
    rng, votes = random.Random(0), []
    for _ in range(12):
        it = next_item(pool.items, votes, rater="ann", rng=rng)
        votes.append(make_vote(rater="ann", task_id=it.task_id, seed=it.seed, left=it.a, right=it.b, answer="tie"))
    assert len({v.item for v in votes}) == 12
    assert set(Counter((v.item[2], v.item[3]) for v in votes).values()) == {4}      # 3 pairs x 4
    assert set(Counter(v.task_id for v in votes).values()) == {3}                   # 4 tasks x 3
    for _ in range(12):
        it = next_item(pool.items, votes, rater="ann", rng=rng)
        votes.append(make_vote(rater="ann", task_id=it.task_id, seed=it.seed, left=it.a, right=it.b, answer="tie"))
    assert next_item(pool.items, votes, rater="ann", rng=rng) is None
    assert next_item(pool.items, votes, rater="bob", rng=rng) is not None          # another rater sees them all


def test_prefer_disagreement_shows_the_split_items_first():
    items = [Item(f"t{i}", 0, "a", "b", disagreement=d) for i, d in enumerate([0.0, 1.0, 0.0, 0.5])]
    rng, votes, shown = random.Random(0), [], []
    for _ in range(4):
        it = next_item(items, votes, rater="r", rng=rng, prefer_disagreement=True)
        shown.append(it.disagreement)
        votes.append(make_vote(rater="r", task_id=it.task_id, seed=0, left="a", right="b", answer="left"))
    assert shown == [1.0, 0.5, 0.0, 0.0]


def test_disagreement_is_computed_from_the_runs_metrics(run):
    pool = load_pool([run])
    # q.good and q.bad (both "higher") always split, q.flat is equal: every item is split evenly
    assert {it.disagreement for it in pool.items} == {1.0}


def test_runs_pool_together_and_a_pipeline_in_two_runs_is_refused(tmp_path):
    a = arena_run(tmp_path, name="a", pipelines=("blend", "gray"))
    b = arena_run(tmp_path, name="b", pipelines=("noise",))
    pool = load_pool([a, b])
    assert {(it.a, it.b) for it in pool.items} == {("blend", "gray"), ("blend", "noise"), ("gray", "noise")}
    with pytest.raises(EditbenchError, match="appears in both"):
        load_pool([a, arena_run(tmp_path, name="c", pipelines=("gray",))])


# --- the page's API ------------------------------------------------------------------------------

def test_the_page_is_blind_and_escapes_and_confines(client, run):
    c, arena = client
    page = c.get("/")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "innerHTML" not in c.get("/app.js").text
    sides = Counter()
    for _ in range(10):
        n = c.get("/api/next", params={"rater": "ann"}).json()
        blob = json.dumps(n)
        assert not any(p in blob for p in PIPELINES)          # names never reach the browser
        assert n["text"] == PROMPT                             # raw text: the page sets it with textContent
        shown = arena.pending[n["token"]]
        sides[shown.left] += 1
        left = Image.open(__import__("io").BytesIO(c.get(f"/img/{n['token']}/left").content))
        expected = np.asarray(Image.open(arena.pool.rows[(n["task_id"], n["seed"], shown.left)].output))
        assert np.array_equal(np.asarray(left), expected) and not left.info    # re-encoded, no metadata
        assert c.post("/api/vote", json={"token": n["token"], "rater": "ann", "answer": "right"}).status_code == 200
    assert len(sides) >= 2                                     # both orders appear
    assert c.get("/img/nosuchtoken/left").status_code == 404
    assert c.get("/img/..%2F..%2Frun.json/left").status_code == 404
    votes = read_votes(run)
    assert len(votes) == 10 and all(v.rater == "ann" and v.answer == "right" for v in votes)


def test_a_vote_is_on_disk_before_it_is_acknowledged_and_a_replay_is_refused(client, run):
    c, arena = client
    n = c.get("/api/next", params={"rater": "ann"}).json()
    r = c.post("/api/vote", json={"token": n["token"], "rater": "ann", "answer": "both_bad", "reason": "<b>x</b>"})
    assert r.json() == {"ok": True, "votes": 1}
    line = arena.writer.path.read_text().splitlines()
    assert len(line) == 1 and json.loads(line[0])["answer"] == "both_bad"
    assert c.post("/api/vote", json={"token": n["token"], "rater": "ann", "answer": "left"}).status_code == 409
    bad = c.post("/api/vote", json={"token": "x", "rater": "ann", "answer": 3})
    assert bad.status_code == 400
    n = c.get("/api/next", params={"rater": "ann"}).json()
    assert c.post("/api/vote", json={"token": n["token"], "rater": "eve", "answer": "left"}).status_code == 400
    assert c.get("/api/next", params={"rater": ""}).status_code == 400


def test_the_source_shows_the_mask_outline():
    img = np.zeros((128, 128, 3), np.uint8)
    m = np.zeros((128, 128))
    x0, y0, x1, y1 = BOX
    m[y0:y1, x0:x1] = 1
    out = outline(img, m)
    magenta = (out == (255, 0, 255)).all(axis=2)
    assert magenta[y0, (x0 + x1) // 2] and magenta[(y0 + y1) // 2, x0]        # on the border
    assert not magenta[(y0 + y1) // 2, (x0 + x1) // 2] and not magenta[5, 5]  # not inside, not far outside


def test_a_rater_who_judged_everything_is_told_so(client):
    c, arena = client
    for _ in range(len(arena.pool.items)):
        n = c.get("/api/next", params={"rater": "ann"}).json()
        c.post("/api/vote", json={"token": n["token"], "rater": "ann", "answer": "tie"})
    assert c.get("/api/next", params={"rater": "ann"}).json() == {"done": True, "votes": 24}


# --- the report -------------------------------------------------------------------------------------

def test_report_shows_ratings_and_agreement_when_the_run_has_votes(run):
    from reports.leaderboard import build_report
    from reports.terminal import render_terminal
    from reports.write import write_report

    assert build_report(run).people is None and "People" not in render_terminal(build_report(run))
    pool, rng, quality = load_pool([run]), random.Random(1), {"blend": 3, "gray": 2, "noise": 1}
    with VoteWriter(run) as w:
        for it in pool.items:
            left, right = (it.a, it.b) if rng.random() < 0.5 else (it.b, it.a)
            w.append(make_vote(rater="ann", task_id=it.task_id, seed=it.seed, left=left, right=right,
                               answer="left" if quality[left] > quality[right] else "right"))
    r = build_report(run)
    write_report(run, report=r)
    text = render_terminal(r)
    assert re.search(r"blend\s+\d+ \[\d+, \d+\]", text) and "Agreement with people on this suite" in text
    assert re.search(r"q\.good\s+100 % \[100 %, 100 %\]\s+24\s+1\.00", text)
    assert re.search(r"q\.bad\s+0 % \[0 %, 0 %\]\s+24\s+-1\.00", text)
    md = (run / "leaderboard.md").read_text()
    assert "## Agreement with people on this suite" in md and "| q.good | 100 % [100 %, 100 %] | 24 |" in md
    assert "Agreement with people on this suite" in (run / "leaderboard.html").read_text()
    doc = json.loads((run / "results.json").read_text())["people"]
    assert [a["metric"] for a in doc["agreement"]] == ["q.good", "q.flat", "q.bad"]
    rs = doc["ratings"]
    assert rs["blend"]["rating"] > rs["gray"]["rating"] > rs["noise"]["rating"]
    assert rs["blend"]["ci"][0] <= rs["blend"]["rating"] <= rs["blend"]["ci"][1]


# --- the command line ----------------------------------------------------------------------------

def test_arena_command_refuses_unusable_runs_with_one_sentence(tmp_path):
    from typer.testing import CliRunner

    from harness.cli import app
    from tests.reports.helpers import write_meta

    r = CliRunner().invoke(app, ["arena", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "does not exist" in r.output and "Traceback" not in r.output
    only_one = arena_run(tmp_path, name="one", pipelines=("blend",))
    r = CliRunner().invoke(app, ["arena", str(only_one)])
    assert r.exit_code == 2 and "no task and seed has image outputs of two pipelines" in r.output
    write_meta(tmp_path / "other", name="other-suite")
    from harness.contract.results import ResultRow, write_shard

    write_shard(tmp_path / "other", [ResultRow(run_id="x", suite="other-suite", task_id="t0", kind="inpaint",
                                               pipeline="z", seed=0, weights="trained").to_record()])
    r = CliRunner().invoke(app, ["arena", str(arena_run(tmp_path, name="two")), str(tmp_path / "other")])
    assert r.exit_code == 2 and "not 'arena'" in r.output


def test_a_judge_is_one_more_row_of_the_agreement_table_not_a_rating_source(run):
    from reports.arena_report import people_summary
    from reports.leaderboard import build_report

    pool, quality = load_pool([run]), {"blend": 2, "gray": 3, "noise": 1}   # not the name order: κ is defined
    with VoteWriter(run, "people") as w, VoteWriter(run, "judges") as j:
        for it in pool.items:
            best = max((it.a, it.b), key=quality.get)
            w.append(make_vote(rater="ann", task_id=it.task_id, seed=it.seed, left=it.a, right=it.b,
                               answer="left" if best == it.a else "right"))
            j.append(make_vote(rater="judge:agrees", task_id=it.task_id, seed=it.seed, left=it.b, right=it.a,
                               answer="right" if best == it.a else "left"))
            j.append(make_vote(rater="judge:ties", task_id=it.task_id, seed=it.seed, left=it.a, right=it.b,
                               answer="tie"))
            for left, right in ((it.a, it.b), (it.b, it.a)):      # asked in both orders, always says "left"
                j.append(make_vote(rater="judge:position-biased", task_id=it.task_id, seed=it.seed, left=left,
                                   right=right, answer="left"))
    with open(j.path, "a") as f:        # the pairwise judge's own fields are allowed and ignored
        f.write(json.dumps({"rater": "judge:x", "time": "2026-01-01T00:00:00+00:00", "task_id": "t0", "seed": 0,
                            "left": "blend", "right": "gray", "answer": "left", "reason": "",
                            "protocol": "pairwise@1", "model_reported": "m"}) + "\n")
    r = build_report(run)
    p = people_summary(run, r.df, r.metrics)
    rows = {a.metric: a for a in p.agreement}
    assert rows["judge:agrees"].accuracy == 1.0 and rows["judge:agrees"].n_votes == 24
    assert rows["judge:ties"].accuracy == 0.5 and rows["judge:position-biased"].accuracy == 0.5
    assert rows["judge:x"].n_votes == 1
    assert sum(x.n_votes for x in p.ratings) == 2 * 24          # ratings from ann's 24 votes only
    assert p.raters_agreement.cohen[("ann", "judge:agrees")] == (pytest.approx(1.0), 24)


# --- the gate on the metric people trust ------------------------------------------------------------

def test_gate_best_agreeing_gates_only_the_metric_that_agrees_with_people(tmp_path):
    from reports.gate import GateConfig, gate

    base = arena_run(tmp_path, name="base")
    cand = arena_run(tmp_path, name="cand")
    import numpy as np
    import pandas as pd

    noise = np.random.default_rng(5)          # values that differ a little: identical ones leave the family
    for shard in (cand / "results").glob("*.parquet"):
        df = pd.read_parquet(shard)
        for col in ("q.good", "q.bad", "q.flat"):
            df[col] = (df[col] + noise.normal(0, 1e-3, len(df))).clip(0, 1)
        df.to_parquet(shard, index=False)
    for png in (cand / "outputs").rglob("*.png"):   # and outputs that are not byte-identical either
        from PIL import Image

        img = np.array(Image.open(png))
        img[0, 0] = 255 - img[0, 0]
        Image.fromarray(img).save(png)
    config = GateConfig(gated="best-agreeing")
    res = gate(base, cand, config=config)
    assert res.exit_code == 2 and "has no votes" in res.error
    pool, rng, quality = load_pool([base]), random.Random(2), {"blend": 3, "gray": 2, "noise": 1}
    with VoteWriter(base) as w:
        for rater in ("ann", "bob"):
            for it in pool.items:
                left, right = (it.a, it.b) if rng.random() < 0.5 else (it.b, it.a)
                w.append(make_vote(rater=rater, task_id=it.task_id, seed=it.seed, left=left, right=right,
                                   answer="left" if quality[left] > quality[right] else "right"))
    res = gate(base, cand, config=config)
    assert res.error is None, res.error
    assert {m.metric for m in res.metrics if m.gated} == {"q.good"}
    assert {"q.bad", "q.flat"} <= {m.metric for m in res.metrics if not m.gated}     # advisory
    assert any("gated on q.good, the metric that agrees best with people" in w for w in res.warnings)
