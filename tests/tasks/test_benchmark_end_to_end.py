"""End to end: a PIE-Bench-layout folder -> suite (one command) -> a run with a classical floor and with a
published method's outputs (``precomputed``) -> rows and report whose pie.* columns equal an independent
computation (numpy / scikit-image on the saved images)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from typer.testing import CliRunner

from harness.cli import app
from harness.contract.results import read_results
from harness.contract.spec import RunSpec
from harness.workflow import run
from tests.tasks import benchmark_fixtures as fx


def independent_pie(src: np.ndarray, out: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    if np.array_equal(src[~mask], out[~mask]):
        return {"pie.mse_unedited": 0.0, "pie.psnr_unedited": 100.0, "pie.ssim_unedited": 1.0}
    keep = (~mask)[..., None]
    a, b = src / 255.0 * keep, out / 255.0 * keep
    return {"pie.mse_unedited": float(np.mean((a - b) ** 2)),
            # PIE (torchmetrics) gives inf for an untouched unedited part; the column caps it at 100 dB
            "pie.psnr_unedited": min(float(peak_signal_noise_ratio(a, b, data_range=1.0)), 100.0),
            "pie.ssim_unedited": float(structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                                             use_sample_covariance=False, data_range=1.0,
                                                             channel_axis=2))}


def test_pie_bench_folder_to_report(tmp_path):
    root = fx.write_pie(tmp_path / "PIE-Bench" / "data")
    res = CliRunner().invoke(app, ["suite", "build", "pie-bench", "--root", str(root), "--out", str(tmp_path / "pie.yaml")])
    assert res.exit_code == 0, res.output
    # a published method's outputs, as PnPInversion writes them: [source | edited] side by side, 1024 x 512
    method = tmp_path / "output" / "p2p"
    edited = {}
    for i, (key, (rel, *_rest)) in enumerate(fx.PIE_ENTRIES.items()):
        if key == "2 odd/id":
            continue                                          # this one the method did not write
        src = np.asarray(Image.open(root / "annotation_images" / rel).convert("RGB"))
        edit = np.clip(src.astype(int) + np.random.default_rng(i).integers(-40, 40, src.shape), 0, 255).astype(np.uint8)
        edited[key] = edit
        p = method / "annotation_images" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.concatenate([src, edit], axis=1)).save(p.with_suffix(".png"))
        p.with_suffix(".png").rename(p)                       # PNG bytes under PIE's .jpg name: lossless here
    spec = RunSpec(suite=str(tmp_path / "pie.yaml"), address="local", scorers=["pie"], actors_per_pipeline=1,
                   scorer_options={"pie": {"models": []}},
                   pipelines=["cv2-telea", {"name": "precomputed", "label": "p2p",
                                            "options": {"root": str(method), "layout": "pie-bench"}}])
    out = run(spec, out=tmp_path / "run", progress=False)
    df = read_results(out)
    assert len(df) == 6
    bad = df[df["status"] != "ok"]
    assert list(zip(bad["pipeline"], bad["task_id"])) == [("p2p", "2_odd_id")]
    assert "odd.jpg" in bad["error"].iloc[0] and "does not exist" in bad["error"].iloc[0]
    ok = df[df["status"] == "ok"]
    assert set(ok[ok["pipeline"] == "p2p"]["weights"]) == {"real"} and ok[ok["pipeline"] == "p2p"]["latency_ms"].isna().all()
    for key, (rel, _o, _e, _t, box) in fx.PIE_ENTRIES.items():
        tid = "2_odd_id" if key == "2 odd/id" else key
        src = np.asarray(Image.open(root / "annotation_images" / rel).convert("RGB"))
        for rec in ok[ok["task_id"] == tid].itertuples():
            img = np.asarray(Image.open(out / rec.output_path).convert("RGB"))
            if rec.pipeline == "p2p":
                np.testing.assert_array_equal(img, edited[key])          # the right-most 512 x 512
            ref = independent_pie(src, img, fx.pie_reference_mask(box))
            row = df.loc[rec.Index]
            for col, v in ref.items():
                assert row[col] == pytest.approx(v, rel=1e-6), (rec.pipeline, tid, col)
            assert np.isnan(row["pie.structure_distance"]) and np.isnan(row["pie.clip_whole"])
    assert "param.editing_type_id" in df.columns
    rep = CliRunner().invoke(app, ["report", str(out)])
    assert rep.exit_code in (0, 1), rep.output
    board = (out / "leaderboard.md").read_text()
    assert "pie.psnr_unedited" in board and "p2p" in board and "cv2-telea" in board
