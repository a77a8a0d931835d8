"""Bounded inputs: YAML size/alias limits, non-UTF-8 files, image size checked from the header, mask
recipes without full-image grids, params that could not be stored, seeds and CLI numbers."""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from harness.contract.spec import MAX_YAML_BYTES, load_run_spec, read_yaml_mapping
from harness.core.errors import EditbenchError
from harness.core.imageio import DEFAULT_MAX_PIXELS, ImageTooLarge, load_image, mask_from_recipe
from tasks.loading import load_suite
from tasks.validate import SuiteInvalid, check_suite
from tests.hostile.helpers import assert_one_sentence, editbench, toy_suite

ALIAS_BOMB = """name: bomb
version: '1'
pipelines: [toy-naive]
tasks:
  - task_id: a
    kind: toy
    params:
      a: &a [x, x, x, x, x, x, x, x, x]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
      h: [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


def test_yaml_alias_bomb_is_refused_before_expansion(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    with pytest.raises(EditbenchError, match="aliases"):
        load_suite(path)
    assert_one_sentence(editbench("run", "--suite", str(path), "--out", str(tmp_path / "o")), str(path), "aliases")


def test_oversized_yaml_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    with path.open("w") as f:
        f.write("name: big\n")
        f.truncate(MAX_YAML_BYTES + 1)
    with pytest.raises(EditbenchError, match="at most"):
        read_yaml_mapping(path, what="suite file")


@pytest.mark.parametrize("kind", ["suite", "spec", "gates", "thresholds"])
def test_non_utf8_yaml_is_one_sentence(tmp_path, kind):
    from reports.gate import load_gate_config
    from reports.recommend import load_thresholds

    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(b"name: caf\xe9\nversion: '1'\n")
    read = {"suite": load_suite, "spec": load_run_spec, "gates": load_gate_config, "thresholds": load_thresholds}[kind]
    with pytest.raises(EditbenchError, match="not UTF-8"):
        read(path)


def test_non_utf8_gates_yaml_from_the_cli_is_exit_2(tmp_path):
    path = tmp_path / "gates.yaml"
    path.write_bytes(b"confidence: 0.9\n# \xff\xfe\n")
    res = editbench("gate", str(tmp_path), str(tmp_path), "--config", str(path))
    assert_one_sentence(res, str(path), "UTF-8")


def _png_header_only(path, w, h):
    """A PNG whose header announces w x h pixels and holds no pixel data (a decompression bomb stand-in)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


def test_image_over_the_limit_is_refused_from_its_header(tmp_path):
    big = _png_header_only(tmp_path / "big.png", 14000, 14000)   # 196 MP: PIL's own bomb check fires
    mid = _png_header_only(tmp_path / "mid.png", 12000, 5000)    # 60 MP: only our limit catches it
    for p in (big, mid):
        with pytest.raises(ImageTooLarge, match="max-pixels"):
            load_image(p)
    assert 12000 * 5000 > DEFAULT_MAX_PIXELS


def test_max_pixels_limit_is_configurable(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "small.png"
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(path)
    monkeypatch.setenv("EDITBENCH_MAX_PIXELS", "100")   # 144 > 100: the header check
    with pytest.raises(ImageTooLarge, match="12x12"):
        load_image(path)
    monkeypatch.setenv("EDITBENCH_MAX_PIXELS", "50")    # 144 > 2 * 50: PIL's decompression-bomb error
    with pytest.raises(ImageTooLarge):
        load_image(path)
    monkeypatch.setenv("EDITBENCH_MAX_PIXELS", "144")
    assert load_image(path).shape == (12, 12, 3)


def test_huge_image_in_a_suite_is_one_sentence_exit_2(tmp_path):
    _png_header_only(tmp_path / "huge.png", 14000, 14000)
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nversion: '1'\npipelines: [cv2-telea]\n"
                     "tasks:\n  - {task_id: a, kind: inpaint, image: huge.png, mask: {box: [0, 0, 4, 4]}}\n")
    with pytest.raises(SuiteInvalid, match="more than"):
        check_suite(load_suite(suite))
    res = editbench("run", "--suite", str(suite), "--out", str(tmp_path / "o"))
    assert_one_sentence(res, "huge.png", "max-pixels")


def test_ellipse_mask_allocates_no_full_image_grid():
    shape = (6000, 6000)
    tracemalloc.start()
    m = mask_from_recipe({"ellipse": [3000, 3000, 2500, 1500]}, shape)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert m.shape == shape and m[3000, 3000] and not m[0, 0]
    assert peak < 3 * shape[0] * shape[1], f"peak {peak / 2**20:.0f} MiB"  # the bool mask is 34 MiB; mgrid was > 500


def test_ellipse_mask_matches_the_formula():
    h, w = 37, 53
    for cx, cy, rx, ry in [(10, 20, 8, 5), (-3, 4, 10, 10), (60, 40, 20, 7), (26.5, 18.2, 0, 3)]:
        yy, xx = np.mgrid[0:h, 0:w]
        ref = ((xx - cx) / max(rx, 1e-6)) ** 2 + ((yy - cy) / max(ry, 1e-6)) ** 2 <= 1.0
        assert (mask_from_recipe({"ellipse": [cx, cy, rx, ry]}, (h, w)) == ref).all()


def test_param_of_mixed_kinds_is_refused_at_validation_naming_the_task(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nversion: '1'\npipelines: [toy-naive]\ntasks:\n"
                     "  - {task_id: a, kind: toy, params: {foo: 1, mask_fraction: 0.2}}\n"
                     "  - {task_id: b, kind: toy, params: {foo: x, mask_fraction: 0.2}}\n")
    with pytest.raises(SuiteInvalid) as e:
        check_suite(load_suite(suite))
    msg = str(e.value)
    assert "task_id 'b'" in msg and "params.foo" in msg and "tasks[0]" in msg


def test_param_beyond_int64_is_refused(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nversion: '1'\npipelines: [toy-naive]\ntasks:\n"
                     f"  - {{task_id: a, kind: toy, params: {{foo: {2**64}, mask_fraction: 0.2}}}}\n")
    with pytest.raises(SuiteInvalid, match="64-bit"):
        check_suite(load_suite(suite))


@pytest.mark.parametrize("seed", [str(2**63), "-1"])
def test_seed_outside_int64_is_refused(tmp_path, seed):
    suite = toy_suite(tmp_path / "s.yaml", ["a"])
    res = editbench("run", "--suite", str(suite), "--seeds", seed, "--out", str(tmp_path / "o"))
    assert_one_sentence(res, "seed", seed)


@pytest.mark.parametrize("flag,value,field", [("--timeout", "-1", "task_timeout_s"), ("--timeout", "0", "task_timeout_s"),
                                              ("--limit", "-1", "limit"), ("--limit", "0", "limit"),
                                              ("--max-pixels", "0", "max_pixels")])
def test_cli_numbers_are_validated(tmp_path, flag, value, field):
    res = editbench("run", "--suite", "toy-5d", flag, value, "--out", str(tmp_path / "o"))
    assert_one_sentence(res, field)
    assert not (tmp_path / "o").exists()


def test_run_spec_max_pixels_raises_the_limit_for_validation(tmp_path, monkeypatch):
    from PIL import Image

    import harness.execution.runner as runner
    from harness.contract.spec import RunSpec

    Image.fromarray(np.full((12, 12, 3), 128, np.uint8)).save(tmp_path / "img.png")
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nversion: '1'\npipelines: [cv2-telea]\n"
                     "tasks:\n  - {task_id: a, kind: inpaint, image: img.png, mask: {box: [0, 0, 4, 4]}}\n")
    monkeypatch.setenv("EDITBENCH_MAX_PIXELS", "100")

    class Validated(Exception):
        pass

    def stop(out, **kwargs):
        raise Validated

    monkeypatch.setattr(runner, "prepare_out_dir", stop)
    with pytest.raises(SuiteInvalid, match="more than 100 pixels"):
        runner.run(RunSpec(suite=str(suite)), out=tmp_path / "o", progress=False)
    with pytest.raises(Validated):
        runner.run(RunSpec(suite=str(suite), max_pixels=144), out=tmp_path / "o", progress=False)
    import os

    assert os.environ["EDITBENCH_MAX_PIXELS"] == "100"  # restored after the run


def test_non_utf8_task_table_is_a_problem_naming_it(tmp_path):
    (tmp_path / "tasks.jsonl").write_bytes(b'{"task_id": "caf\xe9", "kind": "toy"}\n')
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nversion: '1'\npipelines: [toy-naive]\ntasks_file: tasks.jsonl\n")
    with pytest.raises(SuiteInvalid, match="tasks.jsonl.*not UTF-8"):
        load_suite(suite)


@pytest.mark.parametrize("recipe", [{"ellipse": [1, 2, float("inf"), 3]}, {"box": [0, 0, float("nan"), 4]},
                                    {"ellipse": [1, 2, 3]}, {"box": [0, 0, 1e400, 4]}])
def test_mask_recipe_with_non_finite_numbers_is_one_sentence(recipe):
    with pytest.raises(EditbenchError, match="4 finite numbers"):
        mask_from_recipe(recipe, (8, 8))
