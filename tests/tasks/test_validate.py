"""Every suite problem is reported with its file, row and task_id, all at once, before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.contract.spec import RunSpec
from harness.core.errors import EditbenchError
from tasks.loading import load_suite
from tasks.validate import SuiteInvalid, validate_suite
from tests.tasks.helpers import write_png, write_suite

GOOD = {"task_id": "ok", "kind": "inpaint", "image": "img.png", "mask": "mask.png"}


def problems_of(path):
    """Problems of a suite file: schema ones from load_suite, else content ones from validate_suite."""
    try:
        suite = load_suite(path)
    except SuiteInvalid as e:
        return e.problems, str(e)
    probs = validate_suite(suite)
    return probs, "\n".join(map(str, probs))


def assert_named(path, row, task_id, words, *, file=None):
    probs, text = problems_of(path)
    file = str(file or path)
    hit = [str(p) for p in probs if p.row == row and p.task_id == task_id]
    assert hit, f"no problem at {row} ({task_id}) in: {text}"
    line = hit[0]
    assert line.startswith(f"{file} {row} (task_id {task_id!r}): "), line
    for w in words:
        assert w in line, (w, line)
    return probs


def test_good_suite_has_no_problems(data):
    assert problems_of(write_suite(data / "s.yaml", [GOOD]))[0] == []


def test_missing_file(data):
    p = write_suite(data / "s.yaml", [GOOD, {**GOOD, "task_id": "gone", "image": "nope.png"}])
    assert_named(p, "tasks[1]", "gone", ["image 'nope.png'", "does not exist"])


def test_unreadable_image(data):
    (data / "broken.png").write_bytes(b"not a png at all")
    p = write_suite(data / "s.yaml", [{**GOOD, "task_id": "bad", "image": "broken.png"}])
    assert_named(p, "tasks[0]", "bad", ["image 'broken.png'", "cannot be read as an image"])


def test_mask_size_differs_from_image(data):
    p = write_suite(data / "s.yaml", [GOOD, {**GOOD, "task_id": "sz", "mask": "small.png"}])
    assert_named(p, "tasks[1]", "sz", ["mask 'small.png'", "32x32", "64x48"])


def test_mask_not_binary(data):
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))
    write_png(data / "soft.png", ramp)
    p = write_suite(data / "s.yaml", [{**GOOD, "task_id": "soft", "mask": "soft.png"}])
    assert_named(p, "tasks[0]", "soft", ["mask 'soft.png'", "not binary"])


def test_jpeg_ringing_still_counts_as_binary(data):
    from PIL import Image

    m = np.zeros((48, 64), np.uint8)
    m[10:30, 20:40] = 255
    Image.fromarray(m).save(data / "m.jpg", quality=90)
    p = write_suite(data / "s.yaml", [{**GOOD, "mask": "m.jpg"}])
    assert problems_of(p)[0] == []


def test_empty_mask_file_and_recipe(data):
    write_png(data / "black.png", np.zeros((48, 64), np.uint8))
    p = write_suite(data / "s.yaml", [{**GOOD, "task_id": "e1", "mask": "black.png"},
                                      {**GOOD, "task_id": "e2", "mask": {"box": [100, 100, 120, 120]}}])
    assert_named(p, "tasks[0]", "e1", ["mask 'black.png'", "empty"])
    assert_named(p, "tasks[1]", "e2", ["box", "empty"])


def test_duplicate_task_id(data):
    p = write_suite(data / "s.yaml", [GOOD, {**GOOD, "image": "img.png"}])
    assert_named(p, "tasks[1]", "ok", ["duplicate task_id", "tasks[0]"])


def test_unknown_field(data):
    p = write_suite(data / "s.yaml", [GOOD, {**GOOD, "task_id": "x", "colour": "red"}])
    assert_named(p, "tasks[1]", "x", ["colour", "unknown field"])


def test_path_escaping_data_root(data):
    sub = data / "sub"
    sub.mkdir()
    p = write_suite(sub / "s.yaml", [{**GOOD, "task_id": "esc", "image": "../img.png", "mask": {"full": True}}])
    assert_named(p, "tasks[0]", "esc", ["image '../img.png'", "escapes the data root"])


def test_kind_needs_mask_and_bad_params(data):
    p = write_suite(data / "s.yaml", [{"task_id": "nm", "kind": "inpaint", "image": "img.png"},
                                      {"task_id": "op", "kind": "outpaint", "image": "img.png",
                                       "params": {"outpaint": {"left": -3}}},
                                      {"task_id": "st", "kind": "sdedit", "image": "img.png",
                                       "params": {"strength": 1.5}}])
    assert_named(p, "tasks[0]", "nm", ["needs a mask"])
    assert_named(p, "tasks[1]", "op", ["params.outpaint"])
    assert_named(p, "tasks[2]", "st", ["params.strength"])


def test_jsonl_rows_are_named_by_line(data):
    lines = [GOOD, {**GOOD, "task_id": "two", "image": "missing.png"}, {**GOOD, "task_id": "three", "extra": 1},
             {**GOOD, "task_id": "ok"}]
    (data / "tasks.jsonl").write_text("\n".join(json.dumps(t) for t in lines) + "\n")
    p = write_suite(data / "s.yaml", [], tasks_file="tasks.jsonl")
    table = data / "tasks.jsonl"
    # schema problems first (both listed together), then, once fixed, content problems
    assert_named(p, "line 3", "three", ["extra", "unknown field"], file=table)
    assert_named(p, "line 4", "ok", ["duplicate task_id", "line 1"], file=table)
    (data / "tasks.jsonl").write_text("\n".join(json.dumps(t) for t in lines[:2]) + "\n")
    assert_named(p, "line 2", "two", ["missing.png", "does not exist"], file=table)


def test_parquet_rows_are_named_by_row(data):
    import pandas as pd

    rows = [GOOD, {**GOOD, "task_id": "b", "mask": "small.png"}]
    pd.DataFrame([{**r, "mask": r["mask"]} for r in rows]).to_parquet(data / "tasks.parquet")
    p = write_suite(data / "s.yaml", [], tasks_file="tasks.parquet")
    assert_named(p, "row 1", "b", ["mask 'small.png'", "32x32"], file=data / "tasks.parquet")


def test_every_problem_is_listed_and_the_run_exits_2_before_work(data, monkeypatch, tmp_path):
    from harness.cli import app
    from harness.execution import runner

    p = write_suite(data / "s.yaml", [{**GOOD, "task_id": "a", "image": "nope.png"},
                                      {**GOOD, "task_id": "b", "mask": "small.png"}])
    built = []
    monkeypatch.setattr(runner, "build_pipeline", lambda spec: built.append(spec))
    with pytest.raises(EditbenchError) as e:
        runner.build_manifest(RunSpec(suite=str(p)))
    msg = str(e.value)
    assert "2 problems" in msg and "tasks[0] (task_id 'a')" in msg and "tasks[1] (task_id 'b')" in msg
    assert built == []  # no pipeline was even constructed
    res = CliRunner().invoke(app, ["run", "--suite", str(p), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "tasks[0] (task_id 'a')" in res.output and "tasks[1] (task_id 'b')" in res.output
    assert not (tmp_path / "out" / "run.json").exists()


def test_suite_validate_command(data):
    from harness.cli import app

    ok = CliRunner().invoke(app, ["suite", "validate", str(write_suite(data / "s.yaml", [GOOD]))])
    assert ok.exit_code == 0 and "no problems" in ok.output
    bad_suite = write_suite(data / "b.yaml", [{**GOOD, "mask": "small.png"}])
    bad = CliRunner().invoke(app, ["suite", "validate", str(bad_suite)])
    assert bad.exit_code == 2 and "tasks[0] (task_id 'ok')" in bad.output


def test_suite_level_fields_and_bad_json_lines_are_named(data):
    (data / "t.jsonl").write_text(json.dumps(GOOD) + "\n{not json\n")
    p = write_suite(data / "s.yaml", [], tasks_file="t.jsonl", pipelines=[{"nme": "x"}], colour="red")
    with pytest.raises(SuiteInvalid) as e:
        load_suite(p)
    lines = [str(x) for x in e.value.problems]
    assert f"{p}: colour: unknown field" in lines
    assert f"{p}: pipelines.0.nme: unknown field" in lines
    assert any(x.startswith(f"{data / 't.jsonl'} line 2: not valid JSON") for x in lines)
