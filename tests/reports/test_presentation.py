"""What people read: the ranked terminal table (120 columns), the recommendation's consistency with its
evidence, crops around masks, paginated task pages, and plots only where they carry information."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from harness.contract.results import ResultRow, write_shard
from tests.reports.helpers import image_run, write_meta


def _rows(values: dict[str, list[float]], latency: dict[str, float], metric: str = "toy.masked_residual") -> list[dict]:
    """One ok row per (pipeline, task) with the given metric values, seed 0."""
    out = []
    for p, vals in values.items():
        for i, v in enumerate(vals):
            out.append(ResultRow(run_id="run-run", suite="img", task_id=f"t{i:02d}", kind="inpaint", pipeline=p, seed=0,
                                 weights="trained", latency_ms=latency[p], metrics={metric: v}).to_record())
    return out


def _ranking(tmp_path, values, latency):
    from reports.leaderboard import entries
    from reports.ranking import rank
    from scorers.columns import metrics_record

    df = pd.DataFrame.from_records(_rows(values, latency))
    record = metrics_record(["toy"], primary="toy.masked_residual")
    return rank(df, entries(df, record=record), record, "toy.masked_residual")


def test_a_winner_only_when_measurably_ahead_of_every_other(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.4, 0.6, 12)
    clear = _ranking(tmp_path, {"good": list(base - 0.3), "bad": list(base), "worse": list(base + 0.2)},
                     {"good": 900.0, "bad": 10.0, "worse": 5.0})
    assert [r.pipeline for r in clear.ranked] == ["good", "bad", "worse"]
    assert clear.winner is not None and clear.winner.pipeline == "good"
    assert clear.choice()[0].pipeline == "good"            # measurably best wins even though it is slower
    noise = rng.normal(0, 0.05, 12)
    tied = _ranking(tmp_path, {"slow": list(base), "fast": list(base + noise)}, {"slow": 900.0, "fast": 10.0})
    assert tied.winner is None and {r.pipeline for r in tied.tied} == {"slow", "fast"}
    pick, why = tied.choice()
    assert pick.pipeline == "fast" and "not measurably different" in why and "Fastest of them: fast" in why
    assert tied.verdict == "tied" and "Use" not in why


def test_terminal_table_is_ranked_and_fits_120_columns(tmp_path):
    from reports.leaderboard import build_report
    from reports.terminal import render_terminal
    from scorers.columns import metrics_record

    out = tmp_path / "run"
    write_meta(out)
    meta = json.loads((out / "run.json").read_text())
    scorers = ["toy", "background", "seam", "latency"]
    meta["metrics"] = metrics_record(scorers, ["latency_denoise_ms"], primary="toy.masked_residual")
    (out / "run.json").write_text(json.dumps(meta))
    rng = np.random.default_rng(1)
    recs = []
    for p, shift in (("alpha", 0.0), ("beta", 0.5), ("gamma", 0.2)):
        for i in range(6):
            metrics = {c: float(rng.random()) for c in meta["metrics"] if "." in c}
            metrics["toy.masked_residual"] = 0.1 * i + shift
            metrics["background.psnr"] = 40.0 + float(rng.random())   # kept region intact: passes the guardrail
            recs.append(ResultRow(run_id="run-run", suite="img", task_id=f"t{i}", kind="inpaint", pipeline=p, seed=0,
                                  weights="trained", latency_ms=100.0 + 1000 * shift, stage_ms={"denoise": 90.0},
                                  metrics=metrics).to_record())
    write_shard(out, recs)
    r = build_report(out)
    text = render_terminal(r)
    assert max(len(line) for line in text.splitlines()) <= 120, text
    ranked = [ln.split() for ln in text.splitlines() if ln.strip()[:1].isdigit() and " [" in ln]
    assert [row[2] for row in ranked] == ["alpha", "gamma", "beta"]
    assert ranked[0][1] == "★" and ranked[2][1] == "▼"
    flat = " ".join(text.split())
    assert "Not shown:" in flat and "--wide" in flat
    left_out = flat.split("Not shown: ")[1].split(";")[0].split(", ")
    shown = [c for c in meta["metrics"] if "." in c and c != "toy.masked_residual" and c not in left_out]
    assert shown and all(f"{c} " in text for c in shown)     # secondary means up to the width, the rest named
    wide = render_terminal(r, wide=True)
    assert all(f"{c} " in wide for c in left_out) and "Not shown" not in wide
    assert "s" in ranked[0][-1] or "ms" in ranked[0][-1]    # p50 latency in human units


def test_crop_box_keeps_context_and_the_contour_follows_the_mask():
    from reports.crops import crop, crop_box, draw_contour

    mask = np.zeros((400, 600), bool)
    mask[100:140, 200:300] = True
    x0, y0, x1, y1 = crop_box(mask)
    assert (x0, y0, x1, y1) == (150, 50, 350, 190)          # 100 px box, margin 50 each side, clipped to none
    assert crop(np.zeros((400, 600, 3), np.uint8), (x0, y0, x1, y1)).shape == (179, 256, 3)
    drawn = draw_contour(np.zeros((400, 600, 3), np.uint8), mask)
    red = (drawn == (255, 32, 32)).all(-1)
    assert red[100, 250] and red[120, 200] and not red[120, 250] and not red[10, 10]
    assert crop_box(np.zeros((20, 30), bool)) == (0, 0, 30, 20)


def test_every_task_is_on_a_page_and_outputs_outside_the_run_are_not_read(tmp_path, monkeypatch):
    from reports import edits_html
    from reports.write import write_report

    monkeypatch.setattr(edits_html, "PAGE_TASKS", 2)
    run = image_run(tmp_path)
    (tmp_path / "secret.png").write_bytes((run / "outputs/good/t0__s0.png").read_bytes())
    df = pd.read_parquet(next((run / "results").glob("*.parquet")))
    df.loc[(df["task_id"] == "t2") & (df["pipeline"] == "good") & (df["seed"] == 0), "output_path"] = "../secret.png"
    for f in (run / "results").glob("*.parquet"):
        f.unlink()
    df.to_parquet(run / "results" / "part-0.parquet", index=False)
    write_report(run)
    pages = sorted((run / "report").glob("tasks-*.html"))
    assert [p.name for p in pages] == ["tasks-001.html", "tasks-002.html"]
    html = "".join(p.read_text() for p in pages)
    assert all(f'id="t{i}"' in html for i in range(3))
    assert 'href="../outputs/fast/t2__s0.png"' in html
    assert "lies outside the run directory: not read" in html and "secret" not in html.replace("../secret.png", "")
    main = (run / "leaderboard.html").read_text()
    assert 'href="report/tasks-002.html"' in main


def test_plots_are_omitted_with_a_reason_when_they_carry_nothing(tmp_path):
    from reports.html import informative
    from reports.leaderboard import build_report

    out = tmp_path / "run"
    write_meta(out)
    recs = []
    for p in ("a", "b"):
        for i in range(3):
            recs.append(ResultRow(run_id="run-run", suite="img", task_id=f"t{i}", kind="inpaint", pipeline=p, seed=0,
                                  weights="trained", latency_ms=1.0,
                                  metrics={"background.psnr": float("inf"), "background.mse": 0.0,
                                           "seam.score": 0.1 * i + (p == "b")}).to_record())
    write_shard(out, recs)
    r = build_report(out)
    keep, why = informative(r, ["background.psnr", "background.mse", "seam.score"])
    assert keep == ["seam.score"]
    assert "+inf" in why["background.psnr"] and why["background.mse"].startswith("0 for every pipeline")


def test_history_page_renders_its_table_as_html(tmp_path):
    from reports.history import write_history

    for name in ("r1", "r2"):
        run = image_run(tmp_path / name)
        meta = json.loads((run / "run.json").read_text())
        meta["run_id"] = name
        (run / "run.json").write_text(json.dumps(meta))
    write_history(tmp_path)
    html = (tmp_path / "history.html").read_text()
    assert "<table>" in html and "<pre>" not in html and "| metric |" not in html


@pytest.mark.parametrize("v,expected", [(1.226e5, "2.04 min"), (1226.0, "1.23 s"), (12.34, "12.3 ms"), (0.5, "0.50 ms")])
def test_latency_formats(v, expected):
    from reports.format import fmt_ms

    assert fmt_ms(v) == expected
