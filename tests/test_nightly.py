"""The nightly loop end to end: three suites run, an accepted baseline, a pass, a deliberately worse
candidate (exit 1), a rerun that redoes nothing, the static site, and MLflow read back with its client."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from harness.nightly import load_nightly, run_nightly
from reports.baselines import accept, accept_latest, baseline_for, current, read_log
from reports.site import write_site

SUITES = [{"suite": "toy-5d", "pipelines": ["toy-repaint"]},
          {"suite": "smoke-removal", "pipelines": ["cv2-telea"], "limit": 2},
          {"suite": "smoke-outpaint", "pipelines": ["cv2-telea"], "limit": 2}]


def spec_file(tmp_path: Path, suites, **extra) -> Path:
    path = tmp_path / f"nightly-{len(list(tmp_path.glob('nightly-*')))}.yaml"
    path.write_text(yaml.safe_dump({"root": str(tmp_path / "runs"), "suites": suites, "seeds": [0], **extra}))
    return path


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v:
                self.links.append(v)


def links_of(page: Path) -> list[str]:
    p = Links()
    p.feed(page.read_text(encoding="utf-8"))
    return p.links


@pytest.fixture(scope="module")
def nights(tmp_path_factory, ray_session):
    tmp = tmp_path_factory.mktemp("nightly")
    mlruns = f"file://{tmp / 'mlruns'}"
    first = run_nightly(load_nightly(spec_file(tmp, SUITES, mlflow=mlruns)), night="n1", progress=False)
    accepted = accept_latest(tmp / "runs", why="first night")
    second = run_nightly(load_nightly(spec_file(tmp, SUITES, mlflow=mlruns, site=str(tmp / "site"))), night="n2",
                         progress=False)
    worse = [{"suite": "toy-5d", "pipelines": [{"name": "toy-unconditional", "label": "toy-repaint"}]}]
    third = run_nightly(load_nightly(spec_file(tmp, worse)), night="n3", progress=False)
    return tmp, mlruns, first, accepted, second, third


def test_no_baseline_then_pass_then_a_worse_candidate_fails(nights):
    tmp, _, first, accepted, second, third = nights
    assert [o.gate_code for o in first] == [None, None, None] and all(o.code == 0 for o in first)
    assert sorted(b.suite for b in accepted) == ["smoke-outpaint", "smoke-removal", "toy-5d"]
    assert [o.gate_code for o in second] == [0, 0, 0], [o.line() for o in second]
    assert third[0].gate_code == 1 and max(o.code for o in third) == 1
    gate = json.loads((third[0].out / "gate.json").read_text())
    assert gate["exit_code"] == 1


def test_a_rerun_of_the_same_night_redoes_nothing(nights, ray_session):
    tmp, *_ = nights
    before = {p: p.stat().st_mtime_ns for p in (tmp / "runs").glob("*/n2/results/*.parquet")}
    again = run_nightly(load_nightly(spec_file(tmp, SUITES)), night="n2", progress=False)
    assert all(o.skipped for o in again) and [o.gate_code for o in again] == [0, 0, 0]
    assert {p: p.stat().st_mtime_ns for p in (tmp / "runs").glob("*/n2/results/*.parquet")} == before


def test_an_interrupted_night_resumes_the_suite_it_stopped_in(nights, ray_session):
    tmp, *_ = nights
    out = tmp / "runs" / "toy-5d" / "n4"
    run_nightly(load_nightly(spec_file(tmp, SUITES[:1])), night="n4", progress=False)
    meta = json.loads((out / "run.json").read_text())
    meta["status"] = "incomplete"                     # as a killed run leaves it
    (out / "run.json").write_text(json.dumps(meta))
    shards = sorted((out / "results").glob("*.parquet"))
    shards[0].unlink() if len(shards) > 1 else None
    done = run_nightly(load_nightly(spec_file(tmp, SUITES[:1])), night="n4", progress=False)
    assert not done[0].skipped and json.loads((out / "run.json").read_text())["status"] == "complete"


def test_baselines_are_an_append_only_log_and_a_changed_suite_needs_force(nights):
    tmp, *_ = nights
    root = tmp / "runs"
    log = read_log(root)
    assert [b.why for b in log][:3] == ["first night"] * 3
    assert current(root, "toy-5d").run == "toy-5d/n1"
    assert baseline_for(root / "toy-5d" / "n3") == root / "toy-5d" / "n1"
    run = root / "toy-5d" / "n2"
    meta = json.loads((run / "run.json").read_text())
    meta["suite"]["hash"] = "0" * 64
    (run / "run.json").write_text(json.dumps(meta))
    with pytest.raises(Exception, match="suite content changed.*--force"):
        accept(run)
    assert accept(run, force=True, why="new suite").run == "toy-5d/n2"
    assert len(read_log(root)) == len(log) + 1


def test_the_site_shows_every_suite_with_its_verdict_and_only_local_links(nights):
    tmp, *_ = nights
    index = write_site(tmp / "runs", tmp / "site2")
    html = index.read_text()
    for suite in ("toy-5d", "smoke-removal", "smoke-outpaint"):
        assert f"{suite}/index.html" in html
    assert "<svg" in html and "pass" in html                      # sparklines; the latest nights passed
    toy = (index.parent / "toy-5d" / "index.html").read_text()
    assert "regression" in toy and "(accepted baseline)" in toy   # night n3 failed its gate
    for page in [index, *index.parent.glob("*/index.html")]:
        for link in links_of(page):
            assert not re.match(r"^[a-z]+:", link) or link.startswith("data:"), (page, link)
            if not link.startswith("data:"):
                assert (page.parent / link.split("#")[0]).resolve().is_file(), (page, link)


def test_mlflow_holds_one_run_per_editbench_run(nights):
    import mlflow

    tmp, mlruns, first, *_ = nights
    client = mlflow.MlflowClient(mlruns)
    exp = client.get_experiment_by_name("editbench/smoke-removal")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 2                                            # nights n1 and n2
    r = runs[0]
    assert r.data.params["suite"] == "smoke-removal" and r.data.params["cv2-telea.name"] == "cv2-telea"
    assert any(k.startswith("cv2-telea/") for k in r.data.metrics) and "cv2-telea/errors" in r.data.metrics
    assert r.data.tags["editbench.gate"] in ("pass", "no baseline")
    assert {a.path for a in client.list_artifacts(r.info.run_id)} >= {"leaderboard.html", "results.json"}


def test_mlflow_failure_is_one_line_and_never_fails(tmp_path, capsys, nights, monkeypatch):
    from reports.tracking import log_run

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    tmp, *_ = nights
    assert log_run(tmp / "runs" / "toy-5d" / "n1", tracking_uri="http://127.0.0.1:9/") is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and "MLflow logging" in err[-1]
