"""The editing skill: edit descriptions to kinds and pipelines, numbers from measured runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from harness.cli import app
from harness.contract.results import ResultRow, write_shard
from reports.skill import classify, recommend

ASTRONAUT = "pkg:skimage/data/astronaut.png"


@pytest.mark.parametrize("edit,has_mask,kind,pipeline", [
    ("make it sunset", False, "global_instruction", "instruct-pix2pix"),
    ("turn it into a watercolor painting", False, "global_instruction", "instruct-pix2pix"),
    ("extend to 16:9", False, "outpaint", "flux-fill"),
    ("remove the bin", True, "removal", "patchmatch"),
    ("fix her face", False, "face_regeneration", "sd-inpaint-openpose"),
    ("the hands look wrong, redo them", True, "face_regeneration", "sd-inpaint-openpose"),
    ("replace the sky with a stormy one", False, "sky_replacement", "sd-inpaint"),
    ("new background: a beach at noon", False, "background_replacement", "sd-inpaint"),
    ("replace the mug with a teapot", True, "replace_region", "sd-inpaint"),
    ("replace the mug with a teapot", False, "global_instruction", "instruct-pix2pix"),   # no region given
    ("make the jacket look like leather", True, "regional_style", "sdedit"),
])
def test_edit_descriptions_map_to_kinds_and_default_pipelines(edit, has_mask, kind, pipeline):
    assert classify(edit, has_mask=has_mask)[0] == kind
    r = recommend(ASTRONAUT, edit, mask="m.png" if has_mask else None)
    assert r.edit_kind == kind and r.pipeline == pipeline
    assert any("documented defaults" in e for e in r.evidence)      # said so: no measurement behind it
    assert r.qa and r.prompt_advice


def _measured_run(root, *, gap: float, latency: dict[str, float], n_tasks: int = 8):
    """A run of removal-style inpaint tasks with two real-weights pipelines; ``gap`` is how much lower
    (better) pipeline 'sharp' scores seam.score than 'smooth' on every task."""
    from scorers.columns import metrics_record

    out = root / "run"
    out.mkdir(parents=True)
    meta = {"run_id": "measured-1", "suite": {"name": "s", "version": "1", "hash": "h"}, "seeds": [0],
            "scorers": ["seam", "latency"], "start_time": "2026-11-01T00:00:00+00:00", "status": "complete",
            "metrics": metrics_record(["seam", "latency"], primary="seam.score"), "sweep": [],
            "pipelines": [{"name": "sd-inpaint", "label": "sharp", "options": {"guidance": 5.5, "mask_dilate": 12},
                           "weights": "/w/sharp"},
                          {"name": "cv2-telea", "label": "smooth", "options": {"mask_dilate": 4}, "weights": None}]}
    (out / "run.json").write_text(json.dumps(meta))
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_tasks):
        base = rng.uniform(0.3, 0.6)
        for p, v in (("sharp", base - gap + rng.normal(0, 0.01)), ("smooth", base)):
            rows.append(ResultRow(run_id="measured-1", suite="s", task_id=f"t{i}", kind="inpaint", pipeline=p,
                                  seed=0, weights="real", latency_ms=latency[p],
                                  metrics={"seam.score": v, "latency.total_ms": latency[p]}).to_record())
    write_shard(out, rows)
    return root


def test_a_measured_run_decides_the_pipeline_and_its_settings(tmp_path):
    root = _measured_run(tmp_path, gap=0.2, latency={"sharp": 3000.0, "smooth": 20.0})
    r = recommend(ASTRONAUT, "remove the bin", mask="m.png", runs=root)
    assert r.pipeline == "sharp" and r.guidance == 5.5 and r.mask_dilate == 12   # measurably best, though slower
    assert r.expected_latency_ms == 3000.0
    assert "measured-1" in r.evidence[0] and "measurably best" in r.evidence[0]


def test_with_no_measurable_difference_the_tie_break_picks_the_faster(tmp_path):
    root = _measured_run(tmp_path, gap=0.0, latency={"sharp": 3000.0, "smooth": 20.0})
    r = recommend(ASTRONAUT, "remove the bin", mask="m.png", runs=root)
    assert r.pipeline == "smooth" and r.mask_dilate == 4
    assert "tie-break" in r.evidence[0]


def test_cli_prints_a_complete_recipe_and_scores_an_edit(tmp_path):
    res = CliRunner().invoke(app, ["skill", "--image", ASTRONAUT, "--edit", "make it sunset"])
    assert res.exit_code == 0, res.output
    for part in ("Edit kind", "Mask", "Pipeline", "CFG", "Strength", "Expected latency", "QA checklist", "Evidence"):
        assert part in res.stdout
    res = CliRunner().invoke(app, ["skill", "--image", ASTRONAUT, "--edit", "remove it", "--json",
                                   "--sam-box", "10,10,50,50"])
    assert json.loads(res.stdout)["edit_kind"] == "removal"
    bad = CliRunner().invoke(app, ["skill", "--image", str(tmp_path / "nope.png"), "--edit", "x"])
    assert bad.exit_code == 2 and "does not exist" in bad.stderr
    (tmp_path / "notes.png").write_text("not an image")
    bad = CliRunner().invoke(app, ["skill", "--image", str(tmp_path / "notes.png"), "--edit", "x"])
    assert bad.exit_code == 2 and "cannot be read as an image" in bad.stderr
    # score: an untouched copy passes the background check, a smeared fill is measured
    from pathlib import Path

    from harness.core.imageio import load_image
    from tasks.schema import resolve_data_root

    src = resolve_data_root(ASTRONAUT, Path.cwd())
    img = load_image(src)
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[100:180, 200:280] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    edited = img.copy()
    edited[100:180, 200:280] = img[100:180, 200:280].mean(axis=(0, 1))
    Image.fromarray(edited).save(tmp_path / "edited.png")
    res = CliRunner().invoke(app, ["score", "--source", ASTRONAUT, "--output", str(tmp_path / "edited.png"),
                                   "--mask", str(tmp_path / "mask.png")])
    assert res.exit_code in (0, 1), res.output
    assert "[x] background.psnr" in res.stdout and "texture.score" in res.stdout and "seam.score" in res.stdout
