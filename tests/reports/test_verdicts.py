"""Verdicts that never measure the wrong thing: the primary comes from the suite's goal or the suite is
not rankable; guardrails keep a broken pipeline from being best or passing a gate; ties say tied; one
ranking in every report; a gate sized to its suite. Synthetic run directories, no Ray."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.gate_power import run_rows
from harness.cli import app
from harness.contract.results import ResultRow, write_shard
from reports.gate import GateConfig, PipelinePair, compare, gate, identical_outputs, to_markdown
from reports.leaderboard import build_report
from reports.ranking import run_ranking
from reports.stats import detectable_shift, weighted_holm
from reports.terminal import render_terminal
from reports.write import write_report
from scorers.columns import choose_primary, metrics_record
from scorers.goals import GOALS, choose, suite_goal, task_goal
from tasks.loading import load_suite
from tasks.schema import Task, resolve_task

SCORERS = ["texture", "seam", "background", "fidelity", "latency"]


def make_run(out: Path, pipes: dict[str, dict], *, n_tasks: int = 10, seeds=(0,), goal: str = "removal",
             scorers=SCORERS, rng: int = 0) -> Path:
    """A removal-style run: per pipeline ``{"texture": offset, "bg": background psnr, "ms": latency}``;
    texture.score = task effect + offset + small noise (lower is better)."""
    gen = np.random.default_rng(rng)
    record = metrics_record(scorers)
    choice = choose(record, goal)
    record = metrics_record(scorers, primary=choice.metric)
    out.mkdir(parents=True)
    meta = {"run_id": f"r-{out.name}", "suite": {"name": "s", "version": "1", "hash": "h"}, "seeds": list(seeds),
            "scorers": scorers, "metrics": record, "primary": choice.metric, "goal": choice.to_json(), "sweep": [],
            "status": "complete", "pipelines": [{"name": p, "label": p, "options": {}, "weights": None} for p in pipes]}
    (out / "run.json").write_text(json.dumps(meta))
    effect = gen.uniform(1.0, 3.0, n_tasks)
    rows = []
    for p, spec in pipes.items():
        for i in range(n_tasks):
            for s in seeds:
                m = {"texture.score": effect[i] + spec.get("texture", 0.0) + gen.normal(0, spec.get("noise", 0.02)),
                     "seam.score": 0.1, "background.psnr": spec.get("bg", 100.0), "background.mse": 0.0,
                     "fidelity.psnr": float("nan"), "latency.total_ms": spec.get("ms", 50.0)}
                rows.append(ResultRow(run_id="r", suite="s", task_id=f"t{i:02d}", kind="inpaint", pipeline=p, seed=s,
                                      weights="real", latency_ms=spec.get("ms", 50.0), metrics=m).to_record())
    write_shard(out, rows)
    return out


# ------------------------------------------------------------------------------ the primary and the goal

def test_the_primary_measures_the_goal_or_nothing():
    cols = {"texture.score", "seam.score", "fidelity.psnr", "fidelity.ssim", "background.psnr", "latency.total_ms"}
    assert choose(cols, "removal").metric == "texture.score"
    recon = choose(cols, "reconstruction")
    assert recon.metric is None and not recon.rankable            # never PSNR, never the seam score
    assert "reconstruction" in recon.why and "LPIPS" in recon.why
    assert choose(cols | {"lpips.distance"}, "reconstruction").metric == "lpips.distance"
    face = choose(cols, "face_regen")
    assert face.metric is None and "identity" in face.why
    assert choose(cols, "face_regen", declared="identity.cosine").metric == "identity.cosine"
    assert choose(cols | {"removal.survival"}, "removal").companions == ("removal.survival",)
    assert all("fidelity.psnr" not in c for c in GOALS.values())


def test_the_goal_comes_from_the_tasks():
    assert task_goal("inpaint", has_target=True) == "reconstruction" and task_goal("inpaint") == "removal"
    assert suite_goal(["removal", "removal", "reconstruction"]) == "removal" and suite_goal([]) is None
    tasks = [Task(task_id=f"t{i}", kind="inpaint", image="a.png", mask={"box": [0, 0, 4, 4]}, target="a.png")
             for i in range(3)]
    record = metrics_record(["texture", "seam", "background"])
    c = choose_primary(record, tasks)
    assert c.goal == "reconstruction" and c.metric is None        # the removal metric is not borrowed either
    record = metrics_record(["fidelity", "texture", "seam", "background"])
    c = choose_primary(record, tasks)
    assert c.goal == "reconstruction" and c.metric == "fidelity.texture"   # never fidelity.psnr
    c = choose_primary(record, [t.model_copy(update={"target": None}) for t in tasks])
    assert c.goal == "removal" and c.metric == "texture.score"


def test_not_rankable_in_every_report_and_the_gate_refuses(tmp_path):
    out = make_run(tmp_path / "run", {"a": {}, "b": {"texture": 0.5}}, goal="reconstruction",
                   scorers=["texture", "seam", "background", "latency"])   # no fidelity, no lpips
    r = build_report(out)
    write_report(out, html=True, report=r)
    term = render_terminal(r)
    for text in (term, (out / "leaderboard.md").read_text(), (out / "leaderboard.html").read_text()):
        assert "Not rankable: no metric that measures the reconstruction goal" in text
        assert "Best:" not in text
    assert json.loads((out / "results.json").read_text())["ranking"]["verdict"] == "none"
    res = gate(out, out)
    assert res.exit_code == 2 and "not rankable" in res.error
    assert gate(out, out, config=GateConfig(gated="primary")).exit_code == 2


def test_a_primary_nan_on_every_row_is_an_error_naming_it(tmp_path):
    out = make_run(tmp_path / "run", {"a": {}, "b": {}})
    df = pd.read_parquet(next((out / "results").glob("*.parquet")))
    df["texture.score"] = np.nan
    df["score_error"] = "texture: mask is empty"
    for f in (out / "results").glob("*.parquet"):
        f.unlink()
    df.to_parquet(out / "results" / "part-0.parquet", index=False)
    r = CliRunner().invoke(app, ["report", str(out), "--no-html"])
    assert r.exit_code == 2
    assert "texture.score is NaN or infinite on every one of the 20 measured ok rows" in r.stderr
    assert "mask is empty" in r.stderr and (out / "leaderboard.md").is_file()   # the files are still written


# ------------------------------------------------------------------------------ guardrails and ties

def test_a_pipeline_breaking_the_kept_region_is_never_best(tmp_path):
    # "blocky" has the best fill score by far but a 26 dB background (patchmatch at resolution 96)
    out = make_run(tmp_path / "run", {"good": {"texture": 0.0}, "blocky": {"texture": -1.0, "bg": 26.0},
                                      "poor": {"texture": 0.8}})
    r = build_report(out)
    ranking = run_ranking(r.df, r.overall, r.metrics, r.meta)
    assert [x.pipeline for x in ranking.ranked] == ["good", "poor", "blocky"]
    assert ranking.mark(0) == "★" and ranking.mark(2) == "✗"
    s = ranking.sentence()
    assert s.startswith("Best: good") and "blocky fails background.psnr ≥ 30" in s and "10/10 rows" in s
    write_report(out, html=False, report=r)
    md = (out / "leaderboard.md").read_text()
    assert md.index("## Ranking") < md.index("## All tasks") and "✗" in md
    rec = CliRunner().invoke(app, ["report", "--recommend", str(out)])
    assert rec.exit_code == 0 and "**Use `good`**" in (out / "skill-editing-pipeline.md").read_text()


def test_tied_means_tied_in_every_report(tmp_path):
    out = make_run(tmp_path / "run", {"slow": {"ms": 900.0, "noise": 0.05}, "fast": {"ms": 20.0, "noise": 0.05}})
    r = build_report(out)
    write_report(out, html=True, report=r)
    CliRunner().invoke(app, ["report", "--recommend", str(out)])
    sentence = "no pipeline is measurably best. Fastest of them: fast"
    texts = [render_terminal(r), (out / "leaderboard.md").read_text(), (out / "leaderboard.html").read_text(),
             (out / "skill-editing-pipeline.md").read_text()]
    for text in texts:
        assert "Tied:" in text and sentence in text
        assert "Use `" not in text and "Best:" not in text
    doc = json.loads((out / "results.json").read_text())["ranking"]
    assert doc["verdict"] == "tied" and sentence in doc["sentence"]
    # one order everywhere: results.json, the terminal and leaderboard.md's ranking table
    order = [x["pipeline"] for x in doc["order"]]
    term_rows = [ln.split()[2] for ln in texts[0].splitlines() if ln.strip()[:1].isdigit() and " [" in ln]
    md_rows = [ln.split("|")[3].strip() for ln in texts[1].split("## All tasks")[0].splitlines()
               if ln.startswith("| 1 ") or ln.startswith("| 2 ")]
    assert order == term_rows == md_rows


def test_a_small_suite_says_what_it_cannot_detect(tmp_path):
    out = make_run(tmp_path / "run", {"a": {}, "b": {"texture": 0.01}}, n_tasks=4)
    r = build_report(out)
    write_report(out, html=True, report=r)
    for text in (render_terminal(r), (out / "leaderboard.md").read_text(), (out / "leaderboard.html").read_text()):
        assert "What it cannot detect: This suite has 4 tasks (under 8)" in text
    big = build_report(make_run(tmp_path / "big", {"a": {}, "b": {"texture": 0.01}}, n_tasks=12))
    assert "cannot detect" not in render_terminal(big)


# ------------------------------------------------------------------------------ the gate

def test_guardrails_are_gated_under_every_setting(tmp_path):
    base = make_run(tmp_path / "base", {"patchmatch": {}})
    blocky = make_run(tmp_path / "blocky", {"patchmatch": {"texture": -1.0, "bg": 26.0}})
    for cfg in (GateConfig(), GateConfig(gated="primary"), GateConfig(family="none"),
                GateConfig(metrics={"background.*": {"ignore": True}, "*": {"abs_tol": 100.0}})):
        res = gate(base, blocky, config=cfg)
        assert res.exit_code == 1, cfg
        assert "guardrail background.psnr ≥ 30 (kept region changed) of patchmatch (broken on 10 task(s))" in res.summary()
    assert "**broken**" in to_markdown(res)


def test_identical_values_and_outputs_leave_the_family(tmp_path):
    base = make_run(tmp_path / "base", {"a": {}, "b": {}, "c": {}})
    df = pd.read_parquet(next((base / "results").glob("*.parquet")))
    cand = df.copy()
    sel = cand["pipeline"] == "a"
    cand.loc[sel, "texture.score"] += 0.3                      # only pipeline a changed
    res = compare(df, cand, record=json.loads((base / "run.json").read_text())["metrics"])
    family = [m for m in res.metrics if m.gated]
    assert {m.candidate_pipeline for m in family if m.role == "quality"} == {"a"}
    assert {m.metric for m in family if m.role == "quality"} == {"texture.score"}    # background, seam: identical
    assert all(m.excluded == "identical values" for m in res.metrics if m.role == "quality" and not m.gated)
    assert res.exit_code == 1 and res.regressed[0].metric == "texture.score"
    # byte-identical outputs: a metric that still differs is scorer noise, left out (and said so)
    res = compare(df, cand, record=json.loads((base / "run.json").read_text())["metrics"], identical={"a"})
    assert not any(m.gated and m.role == "quality" for m in res.metrics)
    assert any("byte-identical" in w for w in res.warnings)


def test_identical_outputs_are_read_from_the_files(tmp_path):
    for side in ("b", "c"):
        (tmp_path / side / "outputs").mkdir(parents=True)
        (tmp_path / side / "outputs" / "x.png").write_bytes(b"same")
        (tmp_path / side / "outputs" / "y.png").write_bytes(b"same" if side == "b" else b"diff")
    rows = pd.DataFrame({"pipeline": ["p", "q"], "status": "ok", "task_id": "t", "seed": 0,
                         "output_path": ["outputs/x.png", "outputs/y.png"]})
    pairs = [PipelinePair(baseline="p", candidate="p"), PipelinePair(baseline="q", candidate="q")]
    assert identical_outputs(tmp_path / "b", tmp_path / "c", rows, rows, pairs) == {"p"}


def test_the_gate_reports_what_it_can_detect(tmp_path):
    base = make_run(tmp_path / "base", {"a": {"noise": 0.1}}, n_tasks=5)
    cand = make_run(tmp_path / "cand", {"a": {"noise": 0.1}}, n_tasks=5, rng=1)
    res = gate(base, cand)
    assert any("5 shared task(s) (under 8)" in w for w in res.warnings)
    tex = next(m for m in res.metrics if m.metric == "texture.score")
    assert tex.gated and np.isfinite(tex.detectable) and tex.detectable > abs(tex.diff.diff)
    sd = tex.diff.se * np.sqrt(5)
    assert tex.detectable == pytest.approx(float(detectable_shift(sd, 5, tex.level)))
    assert "detectable (80 %)" in to_markdown(res)


def test_the_primary_carries_half_of_alpha():
    # 1 primary + 9 others, every p = 0.01: plain Holm over 10 would need p < 0.0025
    p = np.full(10, 0.01)
    w = np.array([0.5] + [0.5 / 9] * 9)
    rej, adj = weighted_holm(p, w, 0.025)
    assert rej[0] and adj[0] == pytest.approx(0.02)
    # after the primary is rejected its weight passes on: the others at 0.025 / 9
    assert not rej[1:].any() and adj[1] == pytest.approx(0.09)
    # weight 1: the fixed-sequence procedure
    rej, _ = weighted_holm(np.array([0.03, 0.001]), np.array([1.0, 0.0]), 0.025)
    assert not rej.any()
    rej, _ = weighted_holm(np.array([0.02, 0.001]), np.array([1.0, 0.0]), 0.025)
    assert rej.all()


def test_weighted_holm_controls_the_family_wise_error():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=(20000, 12))                  # every null true, independent tests
    w = np.array([0.5] + [0.5 / 11] * 11)
    rej, _ = weighted_holm(p, w, 0.05)
    assert rej.any(-1).mean() <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 20000)
    assert rej[:, 0].mean() == pytest.approx(0.025, abs=0.004)       # the primary alone: alpha x 0.5


# ------------------------------------------------------------------------------ the real blocky pipeline

def _real_rows(tasks, name: str, options: dict, label: str):
    return run_rows(tasks, name, options, label, [0], ["texture", "seam", "background"])


def test_blocky_patchmatch_on_a_real_removal_suite_is_never_best_nor_passed(tmp_path):
    """patchmatch with options {resolution: 96} resamples the whole frame (background ~26 dB)."""
    suite = load_suite("smoke-removal")
    tasks = [resolve_task(suite, t) for t in suite.tasks[:2]]      # two of its real photos: seconds, not minutes
    good = _real_rows(tasks, "cv2-telea", {}, "cv2-telea")
    blocky = _real_rows(tasks, "patchmatch", {"resolution": 96}, "blocky")
    assert (blocky["background.psnr"] < 30).all() and (good["background.psnr"] > 30).all()
    scorers = ["texture", "seam", "background"]
    record = metrics_record(scorers, primary="texture.score")
    out = tmp_path / "run"
    out.mkdir()
    meta = {"run_id": "real", "suite": {"name": "bench", "version": "1", "hash": "h"}, "seeds": [0],   # as run_rows labels them
            "scorers": scorers, "metrics": record, "primary": "texture.score",
            "goal": choose(record, "removal").to_json(), "pipelines": [], "status": "complete"}
    (out / "run.json").write_text(json.dumps(meta))
    rows = pd.concat([good, blocky], ignore_index=True)
    rows.to_parquet((out / "results").mkdir() or out / "results" / "part-0.parquet", index=False)
    r = build_report(out)
    ranking = run_ranking(r.df, r.overall, r.metrics, r.meta)
    assert ranking.ranked[-1].pipeline == "blocky" and ranking.mark(len(ranking.ranked) - 1) == "✗"
    assert "blocky fails background.psnr ≥ 30" in ranking.sentence() and "Best: blocky" not in ranking.sentence()
    base, cand = good.assign(pipeline="p"), blocky.assign(pipeline="p")
    for cfg in (GateConfig(), GateConfig(gated="primary"), GateConfig(family="none"),
                GateConfig(gated="primary", metrics={"background.*": {"ignore": True}})):
        res = compare(base, cand, config=cfg, record=record, goal="removal")
        assert res.exit_code == 1 and any(g.failed and len(g.new_failures) == 2 for g in res.guardrails), cfg


def test_the_gate_refuses_a_primary_nan_on_every_row(tmp_path):
    base = make_run(tmp_path / "base", {"a": {}})
    df = pd.read_parquet(next((base / "results").glob("*.parquet")))
    record = json.loads((base / "run.json").read_text())["metrics"]
    df["texture.score"] = np.nan
    with pytest.raises(Exception, match="primary metric 'texture.score' has no finite value on any of its 10"):
        compare(df, df, record=record)
