"""The CLI contract: bad input gives one sentence on stderr and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def editbench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300)


def assert_bad_input(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("editbench: error: ")
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in res.stderr


def test_unknown_suite(tmp_path):
    assert_bad_input(editbench("run", "--suite", "nope", "--out", str(tmp_path / "o")), "unknown suite 'nope'", "toy-5d")


def test_unknown_pipeline(tmp_path):
    assert_bad_input(editbench("run", "--suite", "toy-5d", "--pipelines", "toy-naive,bogus", "--out", str(tmp_path / "o")),
                     "unknown pipeline 'bogus'", "toy-repaint")
    assert not (tmp_path / "o" / "results").exists()


def test_unknown_scorer(tmp_path):
    assert_bad_input(editbench("run", "--suite", "toy-5d", "--scorers", "toy,bogus", "--out", str(tmp_path / "o")),
                     "unknown scorer 'bogus'")


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert_bad_input(editbench("run", "--suite", "toy-5d", "--out", str(blocker / "out")),
                     "output directory", str(blocker / "out"), "not writable")


def test_suite_file_with_missing_field(tmp_path):
    suite = tmp_path / "broken.yaml"
    suite.write_text("name: broken\nversion: '1'\npipelines: [toy-naive]\n"
                     "tasks:\n  - {task_id: a, kind: toy, params: {mask_fraction: 0.2}}\n  - {kind: toy}\n")
    assert_bad_input(editbench("run", "--suite", str(suite), "--out", str(tmp_path / "o")),
                     str(suite), "tasks[1]", "task_id", "required field is missing")


def test_run_spec_with_unknown_field(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("suite: toy-5d\nseedz: [0]\n")
    assert_bad_input(editbench("run", str(spec), "--out", str(tmp_path / "o")), str(spec), "seedz", "unknown field")


def test_report_of_a_missing_directory(tmp_path):
    assert_bad_input(editbench("report", str(tmp_path / "none")), str(tmp_path / "none"), "does not exist")


@pytest.mark.parametrize("what", ["suites", "pipelines", "scorers", "masks"])
def test_list(what):
    res = editbench("list", what)
    assert res.returncode == 0, res.stderr
    expected = {"suites": "toy-5d", "pipelines": "toy-repaint", "scorers": "wrong_cluster", "masks": "sam-vit-h"}[what]
    assert expected in res.stdout


def test_list_unknown_kind():
    assert_bad_input(editbench("list", "models"), "cannot list 'models'")


def test_scorer_weights_path_from_the_run_spec_is_checked_before_work(tmp_path):
    spec = tmp_path / "spec.yaml"
    missing = tmp_path / "no-openpose-here"
    spec.write_text(f"suite: toy-5d\nscorers: [toy, pose]\nscorer_options: {{pose: {{weights: {missing}}}}}\n")
    assert_bad_input(editbench("run", str(spec), "--out", str(tmp_path / "o")), "openpose", str(missing))
    assert not (tmp_path / "o" / "run.json").exists()


def test_scorer_options_for_an_unused_scorer(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("suite: toy-5d\nscorers: [toy]\nscorer_options: {clip: {device: cpu}}\n")
    assert_bad_input(editbench("run", str(spec), "--out", str(tmp_path / "o")), "scorer_options", "['clip']")


def test_pipeline_that_runs_no_task_of_the_suite(tmp_path):
    assert_bad_input(editbench("run", "--suite", "smoke-removal", "--pipelines", "cv2-telea,toy-naive",
                               "--out", str(tmp_path / "o")),
                     "pipeline toy-naive cannot run any task of suite smoke-removal", "['inpaint']")


def test_pipeline_that_runs_some_tasks_skips_the_others(tmp_path):
    from harness.contract.spec import RunSpec
    from harness.execution.runner import build_manifest

    suite = tmp_path / "mixed.yaml"
    suite.write_text(
        "name: mixed\nversion: '1'\ndata_root: pkg:skimage/data\nseeds: [0]\nscorers: [latency]\ntasks:\n"
        "  - {task_id: a, kind: inpaint, image: astronaut.png, mask: {box: [0, 0, 64, 64]}}\n"
        "  - {task_id: b, kind: inpaint, image: coffee.png, mask: {box: [0, 0, 64, 64]}}\n"
        "  - {task_id: c, kind: toy, params: {mask_fraction: 0.4, n_samples: 100, data_seed: 0}}\n")
    m = build_manifest(RunSpec(suite=str(suite), pipelines="cv2-telea,toy-naive"))
    assert m.skipped == {"cv2-telea": 1, "toy-naive": 2}
    assert sorted((j.pipeline.key, j.task.task_id) for j in m.jobs) == [
        ("cv2-telea", "a"), ("cv2-telea", "b"), ("toy-naive", "c")]
