"""Loading suites: built-ins by name, files by path, and errors that name the file and field."""

from __future__ import annotations

import pytest

from harness.core.errors import EditbenchError
from tasks.loading import load_suite
from tasks.schema import list_suites
from tasks.validate import check_suite


def test_builtin_toy_suite():
    s = load_suite("toy-5d")
    assert "toy-5d" in list_suites()
    assert [t.params["mask_fraction"] for t in s.tasks] == [0.2, 0.4, 0.6, 0.8]
    assert all(t.suite == "toy-5d" and t.kind == "toy" for t in s.tasks)
    assert [p.name for p in s.pipelines] == ["toy-naive", "toy-repaint", "toy-unconditional"]
    assert s.content_hash() == load_suite("toy-5d").content_hash()


def test_duplicate_task_id_names_the_file(tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text("name: d\nversion: '1'\ntasks:\n  - {task_id: a, kind: toy}\n  - {task_id: a, kind: toy}\n")
    with pytest.raises(EditbenchError, match=r"dup.yaml tasks\[1\] \(task_id 'a'\): duplicate task_id"):
        load_suite(f)


def test_path_escaping_the_data_root_is_refused(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: s\nversion: '1'\ntasks:\n  - {task_id: a, kind: inpaint, image: ../../etc/passwd}\n")
    with pytest.raises(EditbenchError, match=r"tasks\[0\] \(task_id 'a'\): image '../../etc/passwd' escapes the data root"):
        check_suite(load_suite(f))


def test_content_hash_follows_referenced_files(tmp_path):
    (tmp_path / "img.png").write_bytes(b"one")
    f = tmp_path / "s.yaml"
    f.write_text("name: s\nversion: '1'\ntasks:\n  - {task_id: a, kind: inpaint, image: img.png}\n")
    h1 = load_suite(f).content_hash()
    (tmp_path / "img.png").write_bytes(b"two")
    assert load_suite(f).content_hash() != h1
