"""Leaderboard Markdown/HTML: values, random weights, latency rules, escaping, self-containment."""

import re

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.contract.results import read_results
from reports.leaderboard import build_report
from reports.write import write_report
from tests.reports.helpers import PROMPT, image_run, task_mean


@pytest.fixture(scope="module")
def img_run(tmp_path_factory):
    return image_run(tmp_path_factory.mktemp("img"))


def test_toy_leaderboard_values_match_task_means(toy_runs):
    r = build_report(toy_runs["base"])
    df = read_results(toy_runs["base"])
    for e in r.overall:
        rows = df[(df["pipeline"] == e.pipeline) & (df["status"] == "ok")]
        est = e.metrics["toy.masked_residual"]
        assert est.mean == pytest.approx(task_mean(rows, "toy.masked_residual"))
        assert est.lo <= est.mean <= est.hi and (est.n_tasks, est.n_rows) == (4, 8)
        assert e.counts == {"ok": 8, "error": 0, "timeout": 0}
        timed = rows[~rows["warmup"]]
        assert e.latency["latency_denoise_ms"][0] == pytest.approx(np.median(timed["latency_denoise_ms"]))
    assert list(r.sweeps) == ["param.mask_fraction"]
    assert len(r.sweeps["param.mask_fraction"]) == 2 * 4


def test_report_cli_prints_pipeline_by_mask_fraction_table(toy_runs):
    res = CliRunner().invoke(app, ["report", str(toy_runs["base"])])
    assert res.exit_code == 0, res.stderr
    md = (toy_runs["base"] / "leaderboard.md").read_text()
    assert "## By mask_fraction" in md and "toy.wrong_cluster ↓" in md
    assert re.search(r"\| toy-repaint \| 0\.8 \| [0-9.]+ \[[0-9.e-]+, [0-9.e-]+\]", md)
    # the terminal gets the compact ranked table: primary metric with its CI, then what fits in 120 columns
    text = res.stdout
    assert max(len(line) for line in text.splitlines()) <= 120, text
    assert "toy.energy_distance ↓ [95% CI]" in text and "by mask_fraction" in text
    lines = [ln for ln in text.splitlines() if ln.strip()[:1].isdigit() and "toy-" in ln]
    assert [ln.split()[0] for ln in lines] == ["1", "2"]
    html = (toy_runs["base"] / "leaderboard.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 + 4 * 3   # plots + toy thumbnails (source + 2 pipelines)


def test_random_weights_show_latency_only_and_warmup_is_excluded(img_run):
    r = build_report(img_run)
    fast = next(e for e in r.overall if e.pipeline == "fast")
    good = next(e for e in r.overall if e.pipeline == "good")
    assert fast.random_only and not good.random_only
    md = (img_run / "leaderboard.md").read_text() if (img_run / "leaderboard.md").exists() else write_report(img_run)
    line = next(ln for ln in md.splitlines() if ln.startswith("| fast |"))
    assert "n/a (random weights)" in line
    assert fast.metrics["latency.total_ms"].ok                 # latency still measured for random weights
    for e in (fast, good):                                     # the 1e6 ms warm-up row is left out
        assert e.latency["latency_ms"][1] < 1000 and e.metrics["latency.total_ms"].hi < 1000
    assert good.counts["error"] == 1


def test_html_is_self_contained_and_escapes_user_text(img_run):
    write_report(img_run)
    html = (img_run / "leaderboard.html").read_text()
    assert "<script" not in html.lower()                       # the prompt's <script> is text, not a tag
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;b&gt;cat&lt;/b&gt; &amp; dog" in html and "CUDA &lt;oom&gt; &amp; friends" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", html)   # nothing fetched
    assert "<link" not in html and "@import" not in html
    edits = html[html.index("Edits: crops around each mask"):]
    assert edits.count('class="crop"') == 3 * 3              # 3 tasks x (source with contour, 2 pipelines)
    assert 'href="outputs/good/t0__s0.png"' in edits          # full-size outputs linked, not embedded
    assert "By strength" in html and "Metrics vs strength" in html
    assert html.index("Ranking") < html.index("All tasks")     # ranked summary first
    assert PROMPT not in html


def test_html_tolerates_a_missing_suite_file(img_run, tmp_path):
    import json
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(img_run, run)
    meta = json.loads((run / "run.json").read_text())
    meta["suite"]["source"] = str(tmp_path / "gone.yaml")
    (run / "run.json").write_text(json.dumps(meta))
    write_report(run)
    html = (run / "leaderboard.html").read_text()
    assert "suite file recorded in run.json was not found" in html
    assert html.count('class="crop"') == 3 * 2               # outputs still shown (whole, no mask to crop at)


def test_leaderboard_dataframe_hides_random_quality_and_keeps_latency(img_run):
    from reports.leaderboard import leaderboard
    from reports.markdown import format_markdown

    t = leaderboard(read_results(img_run), by=[])
    fast = t[t["pipeline"] == "fast"].iloc[0]
    good = t[t["pipeline"] == "good"].iloc[0]
    assert np.isnan(fast["toy.masked_residual"]) and fast["latency.total_ms"] > 0
    assert good["toy.masked_residual"] == pytest.approx(0.105) and good["error"] == 1
    assert good["toy.masked_residual lo"] <= 0.105 <= good["toy.masked_residual hi"]
    assert format_markdown(t).splitlines()[0].startswith("| pipeline | ok | error | timeout |")


def test_infinite_values_are_shown_not_dropped():
    """PSNR of pixel-identical backgrounds is +inf: the table says so instead of leaving a blank."""
    import math

    import pandas as pd

    from reports.leaderboard import entries, table_rows

    rows = []
    for pipeline, values in (("keeps", [math.inf, math.inf]), ("mixed", [30.0, math.inf])):
        for i, v in enumerate(values):
            rows.append({"run_id": "r", "suite": "s", "task_id": f"t{i}", "kind": "inpaint", "pipeline": pipeline,
                         "seed": 0, "status": "ok", "error": None, "weights": "real", "output_path": None,
                         "latency_ms": 1.0, "warmup": False, "background.psnr": v})
    df = pd.DataFrame(rows)
    head, cells = table_rows(df, entries(df), [])
    col = head.index("background.psnr ↑")
    by_pipeline = {r[0]: r[col] for r in cells}
    assert by_pipeline["keeps"] == "inf"
    assert by_pipeline["mixed"].startswith("30") and by_pipeline["mixed"].endswith("(+1 inf)")
