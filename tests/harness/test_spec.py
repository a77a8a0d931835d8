"""RunSpec (what to run, frozen) and ExecutionSpec (how): flat keys are routed, files and the CLI keep working."""

from __future__ import annotations

import pydantic
import pytest

from harness.contract.spec import EXECUTION_FIELDS, ExecutionSpec, RunSpec, load_run_spec
from harness.core.errors import EditbenchError


def test_flat_execution_keys_go_to_the_execution_spec():
    spec = RunSpec(suite="toy-5d", seeds=[0], task_timeout_s=5, actors_per_pipeline=2, resume=True)
    assert spec.execution == ExecutionSpec(task_timeout_s=5, actors_per_pipeline=2, resume=True)
    assert spec.seeds == [0]
    assert not EXECUTION_FIELDS & set(RunSpec.model_fields)      # no key is in both parts


def test_a_flat_key_wins_over_the_same_key_under_execution():
    spec = RunSpec(suite="s", execution={"queue_depth": 3, "max_retries": 0}, queue_depth=4)
    assert spec.execution.queue_depth == 4 and spec.execution.max_retries == 0


def test_what_to_run_is_frozen_and_executed_returns_a_validated_copy():
    spec = RunSpec(suite="s", seeds=[0], task_timeout_s=5)
    with pytest.raises(pydantic.ValidationError):
        spec.seeds = [1]
    again = spec.executed(load_timeout_s=3)
    assert again.execution.load_timeout_s == 3 and again.execution.task_timeout_s == 5 and again.seeds == [0]
    assert spec.execution.load_timeout_s is None
    with pytest.raises(pydantic.ValidationError):
        spec.executed(queue_depth=0)


def test_dump_round_trips_through_the_cli_merge():
    spec = RunSpec(suite="s", pipelines="cv2-telea", task_timeout_s=5)
    merged = RunSpec(**{**spec.model_dump(exclude_unset=True), "load_timeout_s": 2.0, "limit": 1})
    assert merged.execution.task_timeout_s == 5 and merged.execution.load_timeout_s == 2.0 and merged.limit == 1


def test_run_spec_files_take_flat_and_nested_execution_keys(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("suite: toy-5d\nseeds: [0]\ntask_timeout_s: 30\nexecution:\n  queue_depth: 3\n")
    spec = load_run_spec(path)
    assert spec.execution.task_timeout_s == 30 and spec.execution.queue_depth == 3
    path.write_text("suite: toy-5d\nexecution:\n  queue_depth: 0\n")
    with pytest.raises(EditbenchError, match=r"run spec file .*run.yaml: execution.queue_depth"):
        load_run_spec(path)
    path.write_text("suite: toy-5d\nexecution:\n  queue_dept: 3\n")
    with pytest.raises(EditbenchError, match=r"execution.queue_dept: unknown field"):
        load_run_spec(path)
