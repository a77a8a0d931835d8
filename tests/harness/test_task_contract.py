"""The task contract: every parameter a suite sets is applied or refused, sweeps are declared, and a run
describes its own metrics (run.json ``metrics``), which reports read instead of today's code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from harness.cli import app
from harness.contract.spec import PipelineSpec, RunSpec
from harness.core.errors import EditbenchError
from harness.execution.runner import _run_metadata, build_manifest
from harness.pipelines.base import PIPELINES, build_pipeline, pipeline_names
from tasks.loading import load_suite
from tests.tasks.helpers import bundled_photo, write_png, write_suite

FLOORS = ["cv2-telea", "cv2-ns", "patchmatch"]   # weight-free pipelines that take mask_dilate per task


def _build(*args) -> None:
    res = CliRunner().invoke(app, ["suite", "build", *map(str, args)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("name", pipeline_names())
def test_every_task_option_is_an_option_the_adapter_reads_or_task_geometry(name):
    cls = PIPELINES[name]
    assert cls.task_options - {"outpaint"} <= set(cls.Options.model_fields), name


def test_dilation_sweep_changes_the_output_of_every_pipeline_that_dilates(tmp_path):
    _build("dilation-sweep", "--from", "smoke-removal", "-n", "1", "--out", tmp_path / "dil.yaml")
    suite = load_suite(tmp_path / "dil.yaml")
    assert suite.sweep == ["mask_dilate"]
    assert [t.overrides["mask_dilate"] for t in suite.tasks] == [0, 8, 16]
    m = build_manifest(RunSpec(suite=str(tmp_path / "dil.yaml"), pipelines=FLOORS))
    for p in m.pipelines:
        adapter = build_pipeline(p)
        adapter.load()
        outs = [adapter.run(j.task, j.seed) for j in m.jobs if j.pipeline.key == p.key]
        digests = {hashlib.sha256(o.image.tobytes()).hexdigest() for o in outs}
        assert len(digests) == 3, f"{p.key}: outputs for dilations 0/8/16 are not all different"
        assert [o.applied["mask_dilate"] for o in outs] == [0, 8, 16]


def test_an_override_no_scheduled_pipeline_can_honour_fails_before_any_work(tmp_path):
    write_png(tmp_path / "img.png", np.full((32, 32, 3), 90, np.uint8))
    tasks = [{"task_id": "ok", "kind": "inpaint", "image": "img.png", "mask": {"box": [4, 4, 12, 12]}},
             {"task_id": "stepped", "kind": "inpaint", "image": "img.png", "mask": {"box": [4, 4, 12, 12]},
              "overrides": {"steps": 5}}]
    suite = write_suite(tmp_path / "s.yaml", tasks, pipelines=["cv2-telea"])
    res = CliRunner().invoke(app, ["run", "--suite", str(suite), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2
    msg = res.stderr
    for part in (str(suite), "tasks[1]", "'stepped'", "cv2-telea", "'steps'", "nothing was run"):
        assert part in msg, (part, msg)
    assert not (tmp_path / "run" / "results").exists()


def test_an_override_value_a_pipeline_refuses_names_the_field(tmp_path):
    write_png(tmp_path / "img.png", np.full((32, 32, 3), 90, np.uint8))
    tasks = [{"task_id": "neg", "kind": "inpaint", "image": "img.png", "mask": {"box": [4, 4, 12, 12]},
              "overrides": {"mask_dilate": -3}}]
    suite = write_suite(tmp_path / "s.yaml", tasks, pipelines=["cv2-telea"])
    with pytest.raises(EditbenchError, match=r"override mask_dilate = -3 is not valid for pipeline cv2-telea"):
        build_manifest(RunSpec(suite=str(suite)))


def test_legacy_params_split_into_overrides_and_meta_with_an_unchanged_hash(tmp_path):
    write_png(tmp_path / "img.png", np.full((32, 32, 3), 90, np.uint8))
    base = {"task_id": "a", "kind": "inpaint", "image": "img.png", "mask": {"box": [4, 4, 12, 12]}}
    old = load_suite(write_suite(tmp_path / "old.yaml", [{**base, "params": {"mask_dilate": 4, "edit": "removal"}}]))
    new = load_suite(write_suite(tmp_path / "new.yaml", [{**base, "overrides": {"mask_dilate": 4},
                                                          "meta": {"edit": "removal"}}]))
    assert (old.tasks[0].overrides, old.tasks[0].meta) == ({"mask_dilate": 4}, {"edit": "removal"})
    assert old.content_hash() == new.content_hash()
    toy = load_suite("toy-5d").tasks[0]     # for toy tasks, mask_fraction is what the toy pipelines apply
    assert toy.overrides["mask_fraction"] == 0.2 and toy.meta == {}


def test_face_regen_ellipse_is_never_dilated_twice():
    for t in load_suite("smoke-face-regen").tasks:
        assert "mask_dilate" not in t.overrides and t.meta["ellipse_grow"] == 8


def test_a_pipeline_that_cannot_run_some_tasks_runs_the_others_and_one_that_runs_none_is_refused(tmp_path):
    write_png(tmp_path / "img.png", np.full((32, 32, 3), 90, np.uint8))
    tasks = [{"task_id": "fill", "kind": "inpaint", "image": "img.png", "mask": {"box": [4, 4, 12, 12]}},
             {"task_id": "edit", "kind": "sdedit", "image": "img.png", "prompt": "a cat"}]
    suite = write_suite(tmp_path / "s.yaml", tasks, pipelines=["cv2-telea"])
    m = build_manifest(RunSpec(suite=str(suite), pipelines=["cv2-telea", "synthetic"]))
    assert {(j.task.task_id, j.pipeline.key) for j in m.jobs} == {("fill", "cv2-telea"), ("fill", "synthetic"),
                                                                   ("edit", "synthetic")}
    assert m.coverage.notes() == ["pipeline cv2-telea runs 1 of 2 tasks; it skips 1 whose kind it cannot run"]
    assert m.pipeline_configs[0]["tasks_skipped"] == 1
    only_edit = write_suite(tmp_path / "e.yaml", tasks[1:], pipelines=["cv2-telea"])
    with pytest.raises(EditbenchError, match="pipeline cv2-telea cannot run any task"):
        build_manifest(RunSpec(suite=str(only_edit), pipelines=["cv2-telea", "synthetic"]))


def test_sweep_axes_must_be_task_parameters(tmp_path):
    write_png(tmp_path / "img.png", np.full((32, 32, 3), 90, np.uint8))
    tasks = [{"task_id": "a", "kind": "inpaint", "image": "img.png", "mask": {"box": [4, 4, 12, 12]},
              "meta": {"mask_fraction": 0.1}}]
    suite = write_suite(tmp_path / "s.yaml", tasks, pipelines=["cv2-telea"], sweep=["mask_dilate"])
    with pytest.raises(EditbenchError, match=r"sweep names \['mask_dilate'\]"):
        build_manifest(RunSpec(suite=str(suite)))


def _fake_run(m, out: Path) -> Path:
    """run.json and one ok row per job, without running anything (report plumbing only)."""
    from harness.contract.results import ResultRow, write_shard

    meta = _run_metadata(m, out, RunSpec(suite=m.suite.source_path))
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(meta, default=str))
    rng = np.random.default_rng(0)
    rows = [ResultRow(run_id="r", suite=m.suite.name, task_id=j.task.task_id, kind=j.task.kind, pipeline=j.pipeline.key,
                      seed=j.seed, params={**j.task.params, **j.pipeline.grid_point}, latency_ms=1.0,
                      metrics={c: float(rng.random()) for c in m.metrics if "." in c}).to_record() for j in m.jobs]
    write_shard(out, rows)
    return out


def test_every_builder_declared_axis_becomes_a_report_axis(tmp_path):
    from reports.leaderboard import build_report, render_markdown

    folder = tmp_path / "imgs"
    folder.mkdir()
    for n in ("astronaut.png",):
        (folder / n).write_bytes(bundled_photo(n).read_bytes())
    sd = PipelineSpec(name="sd-inpaint", weights="random")
    cases = {
        "dilation-sweep": (["--from", "smoke-removal", "-n", "1"], ["cv2-telea"]),
        "guidance-mask-sweep": (["--from", "smoke-removal", "-n", "1"], [sd]),
        "prompt-scope-sweep": (["--from", "smoke-removal", "-n", "1", "--object-prompt", "a shuttle"], [sd]),
        "sdedit-sweep": (["--images", folder], [PipelineSpec(name="sdedit", weights="random")]),
    }
    for builder, (args, pipelines) in cases.items():
        path = tmp_path / f"{builder}.yaml"
        _build(builder, *args, "--out", path)
        suite = load_suite(path)
        assert suite.sweep, builder
        spec = RunSpec(suite=str(path), pipelines=pipelines, scorers=["background", "latency"])
        r = build_report(_fake_run(build_manifest(spec), tmp_path / builder))
        assert list(r.sweeps) == [f"param.{a}" for a in suite.sweep], builder
        text = render_markdown(r)
        assert all(f"## By {a}" in text for a in suite.sweep), builder


def test_grid_axes_are_declared_and_grouped_under_their_pipeline(tmp_path):
    from reports.leaderboard import build_report

    spec = RunSpec(suite="smoke-removal", pipelines=["cv2-telea"], limit=2, grid={"radius": [1.0, 5.0]})
    m = build_manifest(spec)
    assert m.sweep == ["radius"]
    r = build_report(_fake_run(m, tmp_path / "grid"))
    ents = r.sweeps["param.radius"]
    assert sorted((e.pipeline, e.key["param.radius"]) for e in ents) == [("cv2-telea", 1.0), ("cv2-telea", 5.0)]


def test_run_json_describes_every_metric_and_the_primary(tmp_path):
    for name in ("toy-5d", "smoke-removal", "smoke-outpaint", "smoke-face-regen"):
        m = build_manifest(RunSpec(suite=name))
        meta = _run_metadata(m, tmp_path / name, RunSpec(suite=name))
        for s in m.scorers:
            from scorers.base import get_scorer_class

            for col, metric in get_scorer_class(s).columns().items():
                rec = meta["metrics"][col]
                assert (rec["direction"], rec["role"], tuple(rec["range"])) == (metric.direction, metric.role,
                                                                             metric.range)
        assert meta["metrics"]["latency_ms"]["role"] == "latency"
        assert meta["primary"] and meta["metrics"][meta["primary"]]["primary"] is True
    assert _run_metadata(build_manifest(RunSpec(suite="toy-5d")), tmp_path / "t", RunSpec(suite="toy-5d"))[
        "sweep"] == ["mask_fraction"]
    with pytest.raises(EditbenchError, match="primary metric 'clip.score' is not a column"):
        build_manifest(RunSpec(suite="smoke-removal", primary="clip.score"))


def test_provenance_flags_are_never_ranked():
    import pandas as pd

    from reports.rows import metric_columns
    from scorers.columns import metrics_record

    record = metrics_record(["identity"])
    df = pd.DataFrame({"identity.cosine": [0.5], "identity.detector_scrfd": [1.0], "identity.detected": [1.0]})
    assert metric_columns(df, record) == ["identity.cosine", "identity.detected"]


def test_a_report_reads_directions_from_the_run_not_from_todays_registry(tmp_path, monkeypatch):
    from reports.leaderboard import build_report, render_markdown
    from scorers.base import Metric, get_scorer_class

    m = build_manifest(RunSpec(suite="smoke-removal", pipelines=["cv2-telea"], limit=2))
    out = _fake_run(m, tmp_path / "old")
    seam = get_scorer_class("seam")
    monkeypatch.setattr(seam, "metrics", {"score": Metric("higher", range=(0.0, None), version=9)})
    assert "seam.score ↓" in render_markdown(build_report(out))        # the run's recorded direction
    meta = json.loads((out / "run.json").read_text())
    del meta["metrics"]                                                # a run written before the record
    (out / "run.json").write_text(json.dumps(meta))
    r = build_report(out)
    assert "seam.score ↑" in render_markdown(r)                        # read with today's registry ...


def test_an_old_run_without_a_record_is_read_with_a_warning(tmp_path, capsys):
    from scorers.columns import read_metrics

    (tmp_path / "run.json").write_text(json.dumps({"run_id": "x"}))
    rec = read_metrics(tmp_path, columns=["latency_ms", "latency_denoise_ms"])
    assert "no metric metadata" in capsys.readouterr().err
    assert rec["seam.score"]["direction"] == "lower" and rec["latency_denoise_ms"]["role"] == "latency"


def test_scorers_compare_against_the_mask_the_pipeline_edited():
    from harness.execution.worker import effective_task
    from harness.pipelines.base import Output
    from harness.pipelines.imaging import dilate_mask
    from scorers.regions import task_mask
    from tasks.schema import Task

    t = Task(task_id="a", kind="inpaint", image="x.png", mask={"box": [10, 10, 20, 20]})
    eff = effective_task(t, Output(image=np.zeros((40, 40, 3), np.uint8), applied={"mask_dilate": 4}))
    base = task_mask(t, (40, 40))
    assert task_mask(eff, (40, 40)).sum() > base.sum()
    assert (task_mask(eff, (40, 40)) == dilate_mask(base, 4)).all()


def test_recommendation_thresholds_are_in_the_metrics_units(tmp_path):
    from reports.recommend import THRESHOLDS, check_thresholds, load_thresholds
    from scorers.columns import metrics_record

    record = metrics_record(["clip", "seam", "background", "identity", "pose", "toy"])
    check_thresholds(dict(THRESHOLDS), record, where="built-in thresholds")   # every built-in one is in range
    bad = tmp_path / "th.yaml"
    bad.write_text(yaml.safe_dump({"clip.score": {"min": 120}}))
    with pytest.raises(EditbenchError, match=r"clip.score lies outside its range \[0.0, 100.0\]"):
        check_thresholds(load_thresholds(bad), record, where=str(bad))
