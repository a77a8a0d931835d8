"""Suite files: task tables, pkg: data roots, content hashes (into run.json), grid expansion."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.contract.spec import PipelineSpec, RunSpec, expand_grid, load_run_spec
from harness.core.errors import EditbenchError
from tasks.loading import load_suite
from tasks.schema import resolve_data_root
from tests.tasks.helpers import write_png, write_suite

TASKS = [{"task_id": "a", "kind": "inpaint", "image": "img.png", "mask": "mask.png", "params": {"edit": "removal"}},
         {"task_id": "b", "kind": "inpaint", "image": "img.png", "mask": {"box": [1, 2, 30, 40]}}]


def test_inline_jsonl_and_parquet_tables_load_the_same_tasks(data):
    import pandas as pd

    inline = load_suite(write_suite(data / "inline.yaml", TASKS))
    (data / "t.jsonl").write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    jsonl = load_suite(write_suite(data / "jsonl.yaml", [], tasks_file="t.jsonl"))
    # Parquet columns hold one type: dict cells (mask recipes, params) are stored as JSON strings.
    pd.DataFrame([{**t, "mask": t["mask"] if isinstance(t["mask"], str) else json.dumps(t["mask"]),
                   "params": json.dumps(t.get("params", {}))} for t in TASKS]).to_parquet(data / "t.parquet")
    parquet = load_suite(write_suite(data / "pq.yaml", [], tasks_file="t.parquet"))
    assert inline.tasks == jsonl.tasks == parquet.tasks
    assert jsonl.origin(1) == (str(data / "t.jsonl"), "line 2")
    assert parquet.origin(0) == (str(data / "t.parquet"), "row 0")
    assert jsonl.model_dump()["tasks"] == parquet.model_dump()["tasks"]


def test_suite_without_tasks_is_refused(data):
    with pytest.raises(EditbenchError, match="no tasks"):
        load_suite(write_suite(data / "s.yaml", []))


def test_pkg_data_root_resolves_inside_the_installed_package(tmp_path):
    import skimage

    root = resolve_data_root("pkg:skimage/data", tmp_path)
    assert root == (resolve_data_root("pkg:skimage", tmp_path) / "data")
    assert (root / "astronaut.png").is_file() and root.is_relative_to(Path(skimage.__path__[0]).resolve())
    with pytest.raises(EditbenchError, match="not_a_package_xyz"):
        resolve_data_root("pkg:not_a_package_xyz/data", tmp_path)


def test_pkg_paths_cannot_escape_their_package(tmp_path):
    s = load_suite(write_suite(tmp_path / "s.yaml", [
        {"task_id": "a", "kind": "inpaint", "image": "pkg:skimage/data/astronaut.png", "mask": {"full": True}}],
        data_root="pkg:skimage/data"))
    assert s.resolve_path("astronaut.png").is_file()
    assert s.resolve_path("pkg:skimage/data/coffee.png").is_file()
    with pytest.raises(EditbenchError, match="escapes the data root"):
        s.resolve_path("../../numpy/__init__.py")
    with pytest.raises(EditbenchError, match="escapes the data root"):
        s.resolve_path("pkg:skimage/../numpy/__init__.py")


def test_content_hash_is_location_independent_and_follows_every_file(data, tmp_path_factory):
    h = load_suite(write_suite(data / "s.yaml", TASKS)).content_hash()
    other = tmp_path_factory.mktemp("copy")
    for f in ("img.png", "mask.png", "s.yaml"):
        shutil.copy(data / f, other / f)
    assert load_suite(other / "s.yaml").content_hash() == h
    write_png(other / "mask.png", np.full((48, 64), 255, np.uint8))      # change the mask only
    assert load_suite(other / "s.yaml").content_hash() != h
    files = load_suite(other / "s.yaml").file_hashes()
    assert sorted(files) == ["img.png", "mask.png"] and all(len(v) == 64 for v in files.values())


def test_expand_grid_labels_and_options():
    ps = [PipelineSpec(name="sd-inpaint", options={"steps": 20}), PipelineSpec(name="cv2-telea")]
    out = expand_grid(ps, {"sd-inpaint": {"guidance": [3, 7.5], "paste_back": [True, False]}})
    assert [p.key for p in out] == ["sd-inpaint[guidance=3,paste_back=true]",
                                    "sd-inpaint[guidance=3,paste_back=false]",
                                    "sd-inpaint[guidance=7.5,paste_back=true]",
                                    "sd-inpaint[guidance=7.5,paste_back=false]", "cv2-telea"]
    assert out[2].options == {"steps": 20, "guidance": 7.5, "paste_back": True} and out[2].name == "sd-inpaint"
    common = expand_grid(ps, {"steps": [10, 30]})
    assert [p.key for p in common] == ["sd-inpaint[steps=10]", "sd-inpaint[steps=30]", "cv2-telea[steps=10]",
                                       "cv2-telea[steps=30]"]
    assert expand_grid(ps, None) == ps
    with pytest.raises(EditbenchError, match="flux"):
        expand_grid(ps, {"flux": {"steps": [1]}})
    with pytest.raises(EditbenchError, match="guidance"):
        expand_grid(ps, {"guidance": 7.5})


def test_run_spec_grid_expands_in_build_manifest(tmp_path):
    from harness.execution.runner import build_manifest

    spec = tmp_path / "sweep.yaml"
    spec.write_text("suite: toy-5d\npipelines: [toy-repaint, toy-naive]\n"
                    "grid:\n  toy-repaint: {jump_length: [5, 10], resample: [0, 1]}\n")
    m = build_manifest(load_run_spec(spec))
    keys = [p.key for p in m.pipelines]
    assert keys == ["toy-repaint[jump_length=5,resample=0]", "toy-repaint[jump_length=5,resample=1]",
                    "toy-repaint[jump_length=10,resample=0]", "toy-repaint[jump_length=10,resample=1]", "toy-naive"]
    assert [c["options"]["jump_length"] for c in m.pipeline_configs[:4]] == [5, 5, 10, 10]
    assert len(m.jobs) == 5 * 4 * 2  # pipelines x tasks x seeds
    bad = tmp_path / "bad.yaml"
    bad.write_text("suite: toy-5d\npipelines: [toy-naive]\ngrid: {jump_length: [5]}\n")
    with pytest.raises(EditbenchError, match="jump_length"):
        build_manifest(load_run_spec(bad))  # toy-naive has no such option


def test_run_json_records_suite_hash_and_file_hashes(data, tmp_path):
    from harness.execution.runner import _run_metadata, build_manifest
    from tests.tasks.test_builders import register_fake_pipeline

    register_fake_pipeline()
    p = write_suite(data / "s.yaml", TASKS, pipelines=["fake-image"])
    spec = RunSpec(suite=str(p))
    m = build_manifest(spec)
    meta = _run_metadata(m, tmp_path, spec)
    assert meta["suite"]["hash"] == load_suite(p).content_hash()
    assert set(meta["suite"]["files"]) == {"img.png", "mask.png"}
