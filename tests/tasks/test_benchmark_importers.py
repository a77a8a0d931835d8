"""The benchmark importers round-trip small folders written in each dataset's exact layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, load_mask_file
from tasks.builders.benchmark_formats import pie_mask, rle_decode, sanitise_id, strip_brackets
from tasks.loading import load_suite
from tests.tasks import benchmark_fixtures as fx


def build(kind: str, out, *args) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["suite", "build", kind, "--out", str(out), *map(str, args)])
    return r.exit_code, r.output


def masks_of(suite) -> dict[str, np.ndarray]:
    return {t.task_id: load_mask_file(suite.resolve_path(t.mask)) for t in suite.tasks}


# --- RLE bases and polarity -------------------------------------------------------------------------

def test_rle_bases_differ_by_one_pixel_and_match_a_hand_encoder():
    m = np.zeros((512, 512), bool)
    m[10, 20:25] = True                       # one run at flat index 10 * 512 + 20
    m[300:303, 500:512] = True
    assert fx.rle_encode(m, base=0)[:2] == [10 * 512 + 20, 5]
    np.testing.assert_array_equal(rle_decode(fx.rle_encode(m, base=0), base=0, where="x"), m)
    np.testing.assert_array_equal(rle_decode(fx.rle_encode(m, base=1), base=1, where="x"), m)
    # the same numbers read with the other base land one pixel earlier / later
    shifted = rle_decode(fx.rle_encode(m, base=1), base=0, where="x")
    assert shifted[10, 25] and not shifted[10, 20]


def test_pie_mask_forces_the_border_and_clips_a_long_run():
    m = pie_mask([1000, 10], where="x")
    assert m[0].all() and m[-1].all() and m[:, 0].all() and m[:, -1].all()
    assert m.reshape(-1)[1000:1010].all() and m.sum() == 4 * 511 + 10 - 0
    tail = pie_mask([512 * 512 - 3, 50], where="x")          # PIE: min(len, length - start)
    assert tail.reshape(-1)[-3:].all()


@pytest.mark.parametrize("rle, what", [([1, 2, 3], "even length"), ([1, -2], "non-negative"),
                                       ([512 * 512, 1], "outside"), ("1 2", "list"), ([1.5, 2], "integers")])
def test_malformed_rle_is_one_sentence(rle, what):
    with pytest.raises(EditbenchError, match=what):
        rle_decode(rle, base=0, where="mapping_file.json entry 'x' field 'mask'")


def test_prompt_brackets_and_ids():
    assert strip_brackets("a [cat] on [sand]") == "a cat on sand"
    assert sanitise_id("2 odd/id") == "2_odd_id" and sanitise_id("..x") == "_.x"


# --- PIE-Bench ---------------------------------------------------------------------------------------

def test_pie_bench_folder_becomes_a_suite_with_one_command(tmp_path):
    root = fx.write_pie(tmp_path / "PIE-Bench")
    code, out = build("pie-bench", tmp_path / "pie.yaml", "--root", root)
    assert code == 0, out
    suite = load_suite(tmp_path / "pie.yaml")
    assert [t.task_id for t in suite.tasks] == ["000000000000", "111000000001", "2_odd_id"]
    assert suite.sweep == ["editing_type_id"] and "pie" in suite.scorers
    assert "mapping_file.json sha256" in suite.description and "licence" in suite.description
    masks = masks_of(suite)
    for t, (key, (rel, orig, edit, etype, box)) in zip(suite.tasks, fx.PIE_ENTRIES.items()):
        assert t.kind == "inpaint" and t.meta["source_id"] == key and t.meta["image_path"] == rel
        assert t.prompt == edit.replace("[", "").replace("]", "") and t.meta["editing_prompt"] == edit
        assert t.meta["editing_type_id"] == etype and t.meta["original_prompt"] == orig
        np.testing.assert_array_equal(masks[t.task_id], fx.pie_reference_mask(box))   # 1 = edit region
        assert load_image(suite.resolve_path(t.image)).shape == (512, 512, 3)
    first = (tmp_path / "pie.yaml").read_text()
    assert build("pie-bench", tmp_path / "pie.yaml", "--root", root)[0] == 0
    assert (tmp_path / "pie.yaml").read_text() == first                  # deterministic, byte for byte


def test_pie_bench_instruct_kind(tmp_path):
    root = fx.write_pie(tmp_path / "PIE-Bench")
    assert build("pie-bench", tmp_path / "s.yaml", "--root", root, "--kind", "instruct")[0] == 0
    t = load_suite(tmp_path / "s.yaml").tasks[0]
    assert t.kind == "instruct" and t.instruction.startswith("Make it") and t.mask


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["000000000000"].pop("mask"), "lacks the field 'mask'"),
    (lambda m: m["000000000000"].update(mask=[5, 5, 5]), "field 'mask' must be a list"),
    (lambda m: m["000000000000"].update(image_path="../../etc/passwd"), "outside"),
    (lambda m: m["000000000000"].update(image_path="nope.jpg"), "does not exist"),
    (lambda m: m["000000000000"].update(editing_type_id=None), "editing_type_id"),
    (lambda m: m.update(bad=[1, 2]), "must be an object"),
])
def test_malformed_pie_mapping_is_one_sentence_and_exit_2(tmp_path, edit, message):
    root = fx.write_pie(tmp_path / "PIE-Bench")
    mapping = json.loads((root / "mapping_file.json").read_text())
    edit(mapping)
    (root / "mapping_file.json").write_text(json.dumps(mapping))
    code, out = build("pie-bench", tmp_path / "s.yaml", "--root", root)
    assert code == 2 and message in out and "mapping_file.json" in out, out
    assert "Traceback" not in out and not (tmp_path / "s.yaml").exists()


def test_pie_mapping_that_is_not_json(tmp_path):
    root = fx.write_pie(tmp_path / "PIE-Bench")
    (root / "mapping_file.json").write_text("{not json")
    code, out = build("pie-bench", tmp_path / "s.yaml", "--root", root)
    assert code == 2 and "is not valid JSON" in out


# --- BrushBench --------------------------------------------------------------------------------------

def test_brushbench_one_indexed_masks_both_paintings(tmp_path):
    root = fx.write_brushbench(tmp_path / "BrushBench")
    code, out = build("brushbench", tmp_path / "b.yaml", "--root", root, "--painting", "both")
    assert code == 0, out
    suite = load_suite(tmp_path / "b.yaml")
    assert [t.task_id for t in suite.tasks] == ["img_0-inpainting", "img_0-outpainting", "img_1-inpainting",
                                                "img_1-outpainting"]
    assert suite.sweep == ["painting"]
    masks = masks_of(suite)
    np.testing.assert_array_equal(masks["img_0-inpainting"], fx.box_mask(*fx.BRUSH_ENTRIES["img_0"][0]))
    np.testing.assert_array_equal(masks["img_1-outpainting"], ~fx.box_mask(100, 100, 412, 412))
    assert all(t.kind == "inpaint" and t.prompt for t in suite.tasks)


def test_brushbench_missing_outpainting_mask(tmp_path):
    root = fx.write_brushbench(tmp_path / "BrushBench")
    m = json.loads((root / "mapping_file.json").read_text())
    del m["img_1"]["outpainting_mask"]
    (root / "mapping_file.json").write_text(json.dumps(m))
    assert build("brushbench", tmp_path / "b.yaml", "--root", root)[0] == 0       # inpainting needs no outpainting mask
    code, out = build("brushbench", tmp_path / "c.yaml", "--root", root, "--painting", "outpainting")
    assert code == 2 and "'img_1' lacks the field 'outpainting_mask'" in out


# --- Parquet benchmarks ------------------------------------------------------------------------------

def test_magicbrush_turns_and_sessions(tmp_path):
    rows = fx.magicbrush_rows()
    fx.write_parquet(tmp_path / "mb" / "data" / "dev-00000-of-00001.parquet", rows)
    fx.write_parquet(tmp_path / "mb" / "data" / "train-00000-of-00001.parquet", rows[2:])
    code, out = build("magicbrush", tmp_path / "t.yaml", "--root", tmp_path / "mb", "--split", "dev")
    assert code == 0, out
    suite = load_suite(tmp_path / "t.yaml")
    assert [t.task_id for t in suite.tasks] == ["1001-t1", "327726-t1", "327726-t2"]
    t2 = suite.tasks[2]
    assert t2.kind == "instruct" and t2.instruction == "make the sky pink" and t2.meta["turn"] == 2
    np.testing.assert_array_equal(load_image(suite.resolve_path(t2.image)), fx.photo(21, 64))   # turn 1's target
    np.testing.assert_array_equal(load_image(suite.resolve_path(t2.target)), fx.photo(22, 64))
    mask = load_mask_file(suite.resolve_path(t2.mask))
    assert mask[40:60, 5:25].all() and mask.sum() == 20 * 20                                   # white = edit
    assert build("magicbrush", tmp_path / "s.yaml", "--root", tmp_path / "mb", "--split", "dev",
                 "--mode", "session")[0] == 0
    s = {t.task_id: t for t in load_suite(tmp_path / "s.yaml").tasks}
    assert set(s) == {"1001", "327726"}
    assert s["327726"].meta["instructions"] == ["put a hat on the man", "make the sky pink"]
    np.testing.assert_array_equal(load_image(load_suite(tmp_path / "s.yaml").resolve_path(s["327726"].image)),
                                  fx.photo(20, 64))
    np.testing.assert_array_equal(load_image(load_suite(tmp_path / "s.yaml").resolve_path(s["327726"].target)),
                                  fx.photo(22, 64))


def test_magicbrush_bad_files(tmp_path):
    rows = fx.magicbrush_rows()
    for r in rows:
        r.pop("mask_img")
    fx.write_parquet(tmp_path / "mb" / "x.parquet", rows)
    code, out = build("magicbrush", tmp_path / "t.yaml", "--root", tmp_path / "mb")
    assert code == 2 and "lacks the column(s) ['mask_img']" in out and "x.parquet" in out
    rows = fx.magicbrush_rows()
    rows[1]["turn_index"] = 3
    fx.write_parquet(tmp_path / "mb" / "x.parquet", rows)
    code, out = build("magicbrush", tmp_path / "t.yaml", "--root", tmp_path / "mb")
    assert code == 2 and "turns [1, 3]" in out
    rows = fx.magicbrush_rows()
    rows[0]["source_img"] = {"bytes": b"not an image", "path": None}
    fx.write_parquet(tmp_path / "mb" / "x.parquet", rows)
    code, out = build("magicbrush", tmp_path / "t.yaml", "--root", tmp_path / "mb")
    assert code == 2 and "x.parquet row 0 column 'source_img' cannot be decoded" in out
    (tmp_path / "mb" / "x.parquet").write_bytes(b"PAR1 garbage")
    code, out = build("magicbrush", tmp_path / "t.yaml", "--root", tmp_path / "mb")
    assert code == 2 and "cannot be read as Parquet" in out


def test_emu_edit_reports_identical_captions(tmp_path):
    fx.write_parquet(tmp_path / "emu" / "test-00000.parquet", fx.emu_rows())
    assert build("emu-edit", tmp_path / "e.yaml", "--root", tmp_path / "emu")[0] == 0
    suite = load_suite(tmp_path / "e.yaml")
    assert [t.task_id for t in suite.tasks] == ["test-0", "test-1"]
    assert suite.tasks[1].meta["identical_captions"] is True and "identical_captions" not in suite.tasks[0].meta
    assert "1 rows have input_caption == output_caption" in suite.description and "test-1" in suite.description
    assert suite.tasks[0].prompt == "a snowy street" and suite.sweep == ["task"]
    assert build("emu-edit", tmp_path / "d.yaml", "--root", tmp_path / "emu", "--drop-identical")[0] == 0
    assert [t.task_id for t in load_suite(tmp_path / "d.yaml").tasks] == ["test-0"]


def test_gedit_and_imgedit(tmp_path):
    fx.write_parquet(tmp_path / "gedit" / "data" / "train-0.parquet", fx.gedit_rows())
    assert build("gedit-bench", tmp_path / "g.yaml", "--root", tmp_path / "gedit")[0] == 0
    g = load_suite(tmp_path / "g.yaml")
    assert [t.task_id for t in g.tasks] == ["abc123-en", "abc123-cn", "def456"]
    assert g.tasks[1].meta == {"source_id": "abc123", "task_type": "background_change", "language": "cn"}
    assert g.sweep == ["task_type", "language"]
    assert build("gedit-bench", tmp_path / "h.yaml", "--root", tmp_path / "gedit", "--language", "en")[0] == 0
    assert [t.task_id for t in load_suite(tmp_path / "h.yaml").tasks] == ["abc123", "def456"]
    root = fx.write_imgedit(tmp_path / "imgedit")
    assert build("imgedit", tmp_path / "i.yaml", "--root", root)[0] == 0
    i = load_suite(tmp_path / "i.yaml")
    assert [(t.task_id, t.instruction, t.meta["edit_type"]) for t in i.tasks] == [
        ("1", "turn the cat into a fox", "replace"), ("2", "make it a watercolor", "style")]
    (root / "basic_edit.json").write_text(json.dumps({"1": {"id": "animal/000342021.jpg", "edit_type": "x"}}))
    code, out = build("imgedit", tmp_path / "j.yaml", "--root", root)
    assert code == 2 and "basic_edit.json entry '1' lacks the field 'prompt'" in out


def test_a_datasets_cache_arrow_stream_is_read_like_parquet(tmp_path):
    import pyarrow as pa

    table = pa.Table.from_pylist(fx.emu_rows())
    folder = tmp_path / "cache" / "facebook___emu_edit_test_set" / "default" / "0.0.0" / "abc"
    folder.mkdir(parents=True)
    with pa.ipc.new_stream(str(folder / "emu_edit_test_set-test.arrow"), table.schema) as w:
        w.write_table(table)
    assert build("emu-edit", tmp_path / "e.yaml", "--root", tmp_path / "cache", "--split", "test")[0] == 0
    assert [t.task_id for t in load_suite(tmp_path / "e.yaml").tasks] == ["test-0", "test-1"]


def test_no_parquet_files(tmp_path):
    (tmp_path / "empty").mkdir()
    code, out = build("emu-edit", tmp_path / "e.yaml", "--root", tmp_path / "empty")
    assert code == 2 and "holds no parquet files" in out
