"""The precomputed pipeline: layouts, PIE's right-most crop, confinement to its root, timings, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from harness.contract.spec import PipelineSpec
from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, load_mask_file
from harness.pipelines.base import build_pipeline
from harness.pipelines.precomputed import pie_crop
from scorers.brushbench import BrushBenchScorer, masked_errors
from scorers.magicbrush import MagicBrushScorer, l1
from tasks.builders import build_suite
from tasks.loading import load_suite
from tasks.schema import Task, resolve_task
from tests.tasks import benchmark_fixtures as fx


def adapter(**options):
    p = build_pipeline(PipelineSpec(name="precomputed", label="m", options=options))
    p.check()
    p.load()
    return p


def task(tid="t1", **meta):
    return Task(task_id=tid, kind="instruct", image="x.png", instruction="x", meta=meta)


def save(path, arr):
    """PNG bytes whatever the name (a method's .jpg name, lossless here)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format="PNG")


def test_pie_crop_is_the_bottom_right_512_square():
    rng = np.random.default_rng(0)
    wide = rng.integers(0, 255, (512, 1024, 3), dtype=np.uint8)          # [source | edited]
    np.testing.assert_array_equal(pie_crop(wide), wide[:, 512:])
    tall = rng.integers(0, 255, (600, 700, 3), dtype=np.uint8)
    np.testing.assert_array_equal(pie_crop(tall), tall[88:, 188:])         # crop((W-512, H-512, W, H))
    sq = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    assert pie_crop(sq) is sq
    with pytest.raises(EditbenchError, match="at least 512x512"):
        pie_crop(rng.integers(0, 255, (100, 300, 3), dtype=np.uint8))


def test_layouts_read_each_benchmarks_own_paths(tmp_path):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (512, 1024, 3), dtype=np.uint8)
    save(tmp_path / "pie" / "annotation_images" / "0_random_140" / "000.jpg", img)
    out = adapter(root=str(tmp_path / "pie"), layout="pie-bench").run(task(image_path="0_random_140/000.jpg"), 0)
    assert out.image.shape == (512, 512, 3) and out.weights == "real" and math.isnan(out.latency_ms)
    small = rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)
    save(tmp_path / "gedit" / "fullset" / "color_alter" / "en" / "k1.png", small)
    out = adapter(root=str(tmp_path / "gedit"), layout="gedit").run(
        task(task_type="color_alter", language="en", source_id="k1"), 0)
    np.testing.assert_array_equal(out.image, small)
    save(tmp_path / "brush" / "images" / "a" / "img_0.jpg", small)
    np.testing.assert_array_equal(adapter(root=str(tmp_path / "brush"), layout="brushbench").run(
        task(image_path="images/a/img_0.jpg"), 0).image.shape, small.shape)
    save(tmp_path / "imgedit" / "7.png", small)
    np.testing.assert_array_equal(adapter(root=str(tmp_path / "imgedit"), layout="imgedit").run(
        task(source_id="7"), 0).image, small)
    save(tmp_path / "mine" / "edits" / "t1.png", small)
    p = adapter(root=str(tmp_path / "mine"), layout="edits/{task_id}.png")
    np.testing.assert_array_equal(p.run(task(), 0).image, small)
    assert p.describe()["weights"] == "external"


def test_missing_unreadable_and_escaping_outputs_are_errors_naming_the_file(tmp_path):
    (tmp_path / "o").mkdir()
    p = adapter(root=str(tmp_path / "o"))
    with pytest.raises(EditbenchError, match=r"precomputed output .*o/t1.png of task t1 does not exist"):
        p.run(task(), 0)
    (tmp_path / "o" / "t1.png").write_bytes(b"not a png")
    with pytest.raises(EditbenchError, match=r"o/t1.png cannot be read as an image"):
        p.run(task(), 0)
    save(tmp_path / "secret.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(EditbenchError, match="lies outside the root"):
        adapter(root=str(tmp_path / "o"), layout="imgedit").run(task(source_id="../secret"), 0)
    with pytest.raises(EditbenchError, match="has no meta.image_path"):
        adapter(root=str(tmp_path / "o"), layout="pie-bench").run(task(), 0)


def test_bad_options_and_timings(tmp_path):
    with pytest.raises(EditbenchError, match="nor a pattern"):
        build_pipeline(PipelineSpec(name="precomputed", options={"root": str(tmp_path), "layout": "out.png"}))
    with pytest.raises(EditbenchError, match="is not a folder"):
        adapter(root=str(tmp_path / "nope"))
    (tmp_path / "t.json").write_text(json.dumps({"t1": 812.5}))
    save(tmp_path / "o" / "t1.png", np.zeros((4, 4, 3), np.uint8))
    save(tmp_path / "o" / "t2.png", np.zeros((4, 4, 3), np.uint8))
    p = adapter(root=str(tmp_path / "o"), timings=str(tmp_path / "t.json"))
    assert p.run(task(), 0).latency_ms == 812.5 and math.isnan(p.run(task("t2"), 0).latency_ms)
    (tmp_path / "t.json").write_text(json.dumps({"t1": "fast"}))
    with pytest.raises(EditbenchError, match="must be a JSON object"):
        adapter(root=str(tmp_path / "o"), timings=str(tmp_path / "t.json"))


def test_every_imported_format_runs_with_a_floor_or_precomputed_outputs(tmp_path):
    """Each importer's suite runs (without Ray): BrushBench and MagicBrush (--kind inpaint) with cv2-telea
    and their protocol's weight-free columns; every suite through precomputed outputs in its own layout."""
    def tasks(kind, **opts):
        suite = load_suite(build_suite(kind, out=tmp_path / f"{kind}.yaml", **opts))
        return [resolve_task(suite, t) for t in suite.tasks]       # file fields made absolute, as a run does

    telea = build_pipeline(PipelineSpec(name="cv2-telea"))
    brush = tasks("brushbench", root=fx.write_brushbench(tmp_path / "bb"))
    bs = BrushBenchScorer(models=[])
    for t in brush:
        out = telea.run(t, 0)
        src, keep = load_image(t.image), ~load_mask_file(t.mask)
        assert bs.score(t, out)["mse_unmasked"] == pytest.approx(masked_errors(src, out.image, keep)["mse_unmasked"])
        save(tmp_path / "bb-out" / t.meta["image_path"], out.image)
    got = adapter(root=str(tmp_path / "bb-out"), layout="brushbench").run(brush[0], 0)
    assert bs.score(brush[0], got)["mse_unmasked"] == 0          # untouched outside the mask, PNG round trip

    fx.write_parquet(tmp_path / "mb" / "dev-0.parquet", fx.magicbrush_rows())
    ms = MagicBrushScorer(models=[])
    for t in tasks("magicbrush", root=tmp_path / "mb", task_kind="inpaint"):
        out = telea.run(t, 0)
        assert ms.score(t, out)["l1"] == pytest.approx(l1(out.image, load_image(t.target)))
        save(tmp_path / "mb-out" / f"{t.task_id}.png", load_image(t.target))
        assert ms.score(t, adapter(root=str(tmp_path / "mb-out")).run(t, 0))["l1"] == 0

    fx.write_parquet(tmp_path / "gedit" / "g.parquet", fx.gedit_rows())
    for t in tasks("gedit-bench", root=tmp_path / "gedit"):
        save(tmp_path / "g-out" / "fullset" / t.meta["task_type"] / t.meta["language"] / f"{t.meta['source_id']}.png",
             load_image(t.image))
        assert adapter(root=str(tmp_path / "g-out"), layout="gedit").run(t, 0).image.shape == (48, 48, 3)
    for t in tasks("imgedit", root=fx.write_imgedit(tmp_path / "ie")):
        save(tmp_path / "i-out" / f"{t.meta['source_id']}.png", load_image(t.image))
        assert adapter(root=str(tmp_path / "i-out"), layout="imgedit").run(t, 0).image.shape == (40, 40, 3)
    fx.write_parquet(tmp_path / "emu" / "test-0.parquet", fx.emu_rows())
    for t in tasks("emu-edit", root=tmp_path / "emu"):
        save(tmp_path / "e-out" / f"{t.task_id}.png", load_image(t.image))
        assert adapter(root=str(tmp_path / "e-out")).run(t, 0).image.shape == (48, 48, 3)

