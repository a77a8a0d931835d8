"""Nothing is written or read outside a run's root: task ids and labels are safe file names, checked at
load time, and every output path is checked again where it is written and read."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from harness.contract.spec import PipelineSpec, RunSpec, expand_grid
from harness.core.errors import EditbenchError
from harness.core.storage import MAX_NAME_LEN, confined, name_problem, output_stem
from harness.execution.worker import Job, finish_rows, new_row
from harness.pipelines.base import Output
from tasks.loading import load_suite
from tasks.schema import Task
from tasks.validate import SuiteInvalid
from tests.hostile.helpers import assert_one_sentence, editbench, toy_suite

HOSTILE_IDS = {
    "dotdot": "../../../../elsewhere/escaped",
    "absolute": "/tmp/escaped",
    "nul": "a\x00b",
    "long": "x" * (MAX_NAME_LEN + 1),
    "unicode": "caf\u00e9-\u202etxt",
    "slash": "a/b",
    "dot": "..",
    "hidden": ".editbench.lock",
    "space": "a b",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_IDS))
def test_hostile_task_id_refused_at_load_naming_file_and_row(tmp_path, name):
    suite = toy_suite(tmp_path / "s.yaml", ["ok-1", HOSTILE_IDS[name]])
    with pytest.raises(SuiteInvalid) as e:
        load_suite(suite)
    msg = str(e.value)
    assert str(suite) in msg and "tasks[1]" in msg and "task_id" in msg


def test_safe_ids_and_grid_labels_pass():
    for ok in ("astronaut-box0", "toy-mf0.2", "Tom_Hanks_54745-face0", "sd-inpaint[guidance=7.5,steps=20]", "a" * MAX_NAME_LEN):
        assert name_problem(ok, what="task_id") is None, ok


@pytest.mark.parametrize("label", ["../x", "/abs", "a/b", "a\x00", "\u00e9", "x" * (MAX_NAME_LEN + 1)])
def test_hostile_pipeline_label_refused(label):
    with pytest.raises(ValidationError) as e:  # the CLI turns it into one sentence naming the field
        RunSpec(suite="toy-5d", pipelines=[{"name": "toy-naive", "label": label}])
    assert "label" in str(e.value)


def test_grid_value_that_would_make_an_unsafe_label_is_refused():
    with pytest.raises(EditbenchError, match="grid"):
        expand_grid([PipelineSpec(name="toy-naive")], {"n": ["../../up"]})


def test_cli_refuses_hostile_task_id_and_writes_nothing_outside(tmp_path):
    suite = toy_suite(tmp_path / "s.yaml", ["../../../../elsewhere/escaped"])
    res = editbench("run", "--suite", str(suite), "--out", str(tmp_path / "runs" / "o"))
    assert_one_sentence(res, str(suite), "tasks[0]", "task_id")
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "runs" / "o" / "results").exists()


def test_cli_refuses_hostile_label_in_run_spec(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("suite: toy-5d\npipelines:\n  - {name: toy-naive, label: ../../escaped}\n")
    assert_one_sentence(editbench("run", str(spec), "--out", str(tmp_path / "o")), str(spec), "label")


def test_confined_refuses_escapes(tmp_path):
    assert confined(tmp_path, "outputs", "p", "a__s0") == tmp_path.resolve() / "outputs" / "p" / "a__s0"
    for parts in (("..", "x"), ("/etc/passwd",), ("outputs", "../../x"), ("a\x00",)):
        with pytest.raises(EditbenchError):
            confined(tmp_path, *parts)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "link").symlink_to(tmp_path)  # a symlink out of the run is an escape too
    with pytest.raises(EditbenchError):
        confined(tmp_path / "run", "link", "secret")


def test_writer_refuses_an_id_that_bypassed_validation(tmp_path):
    """Defence in depth: a Task built without validation still cannot make the worker write outside."""
    out = tmp_path / "run"
    out.mkdir()
    task = Task.model_construct(task_id="../../escaped", kind="toy", params={}, suite="s", mask=None, image=None)
    job = Job(task=task, pipeline=PipelineSpec(name="toy-naive"), seed=0)
    output = Output(image=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(EditbenchError, match="task_id"):
        finish_rows([new_row(job, run_id="r", suite="s")], [job], [output], [], out)
    assert not list(tmp_path.rglob("*.png"))
    with pytest.raises(EditbenchError):
        output_stem(out, "../p", "a", 0)


def test_report_never_reads_an_output_path_outside_the_run(tmp_path):
    from reports.html import _output_cell

    secret = tmp_path / "secret.png"
    from PIL import Image

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(secret)
    run = tmp_path / "run"
    run.mkdir()
    for rel in ("../secret.png", str(secret)):
        cell = _output_cell(run, rel, None)
        assert "outside the run directory" in cell and "data:image" not in cell
