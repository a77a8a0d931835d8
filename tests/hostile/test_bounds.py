"""Every input bounded, every failure one sentence: tasks_file rows, nesting depth of YAML / JSON /
JSONL, huge integers, NUL bytes and long paths, run.json of the wrong shape, dotted pkg: names, and the
test-only synthetic pipeline's marker folder."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.contract.spec import PipelineSpec
from harness.core.errors import EditbenchError
from harness.pipelines.base import build_pipeline
from tasks.schema import MAX_TASK_ROWS
from tests.hostile.helpers import assert_one_sentence, editbench, fake_run, row

HEAD = "name: b\nversion: '1'\npipelines: [toy-naive]\n"


def _validate(path):
    return editbench("suite", "validate", str(path))


def test_a_tasks_file_of_too_many_rows_is_refused_from_its_footer(tmp_path):
    n = MAX_TASK_ROWS + 1
    pq.write_table(pa.table({"task_id": [f"t{i}" for i in range(n)], "kind": ["toy"] * n}), tmp_path / "t.parquet")
    (tmp_path / "s.yaml").write_text(HEAD + "tasks_file: t.parquet\n")
    res = _validate(tmp_path / "s.yaml")
    assert res.returncode == 2 and f"more than {MAX_TASK_ROWS} rows" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.splitlines()) < 5


def test_deep_nesting_and_huge_integers_are_one_sentence(tmp_path):
    deep = "[" * 3000 + "]" * 3000
    (tmp_path / "t.jsonl").write_text(json.dumps({"task_id": "a", "kind": "toy"}) + "\n"
                                      + '{"task_id": "b", "kind": "toy", "meta": {"x": ' + deep + "}}\n"
                                      + '{"task_id": "c", "kind": "toy", "meta": {"x": ' + "9" * 5000 + "}}\n")
    (tmp_path / "s.yaml").write_text(HEAD + "tasks_file: t.jsonl\n")
    res = _validate(tmp_path / "s.yaml")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "line 2" in res.stderr and "line 3" in res.stderr
    (tmp_path / "deep.yaml").write_text(HEAD + "tasks: " + deep + "\n")
    assert_one_sentence(_validate(tmp_path / "deep.yaml"), "deep.yaml", "nested")
    (tmp_path / "big.yaml").write_text(HEAD + "seeds: [" + "9" * 5000 + "]\ntasks: [{task_id: a, kind: toy}]\n")
    assert_one_sentence(_validate(tmp_path / "big.yaml"), "big.yaml")
    spec = tmp_path / "spec.yaml"
    spec.write_text("suite: s.yaml\nscorer_options: " + "{a: " * 200 + "1" + "}" * 200 + "\n")
    assert_one_sentence(editbench("run", str(spec), "--out", str(tmp_path / "o")), "spec.yaml", "nested")


@pytest.mark.parametrize("image", ["a\x00b.png", "x" * 5000 + ".png"])
def test_a_nul_byte_or_a_huge_image_path_is_one_sentence(tmp_path, image):
    (tmp_path / "s.yaml").write_text(HEAD + "tasks:\n  - {task_id: a, kind: inpaint, image: " + json.dumps(image)
                                     + ", mask: {box: [0, 0, 2, 2]}, prompt: p}\n")
    res = _validate(tmp_path / "s.yaml")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]


def test_a_dotted_pkg_name_imports_nothing(tmp_path):
    res = editbench("score", "--source", "pkg:this.x/y.png", "--output", str(tmp_path / "o.png"))
    assert "Beautiful is better than ugly" not in res.stdout + res.stderr
    assert_one_sentence(res, "top-level installed package")


@pytest.mark.parametrize("meta, field", [([1, 2], "JSON object"), ({"run_id": "r1", "seeds": "0"}, "field seeds"),
                                         ({"run_id": "r1", "suite": "s"}, "field suite"),
                                         ({"run_id": "r1", "attempts": [1]}, "field attempts")])
def test_run_json_of_the_wrong_shape_names_the_field(tmp_path, meta, field):
    out = fake_run(tmp_path / "o", [row("a")])
    (out / "run.json").write_text(json.dumps(meta))
    assert_one_sentence(editbench("report", str(out)), "run.json", field)


def test_the_synthetic_pipeline_writes_markers_only_under_the_temporary_directory(tmp_path):
    with pytest.raises(EditbenchError, match="die_once_dir must be a folder inside"):
        build_pipeline(PipelineSpec(name="synthetic", options={"die_on": ["a"], "die_once_dir": "/etc/editbench"}))
    with pytest.raises(EditbenchError, match="die_once_dir"):
        build_pipeline(PipelineSpec(name="synthetic", options={"die_once_dir": "relative/markers"}))
    build_pipeline(PipelineSpec(name="synthetic", options={"die_once_dir": str(tmp_path / "markers")}))
