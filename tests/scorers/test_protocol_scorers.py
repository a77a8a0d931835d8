"""pie.*, brushbench.*, magicbrush.*: weight-free parts against independent computations (numpy by hand,
scikit-image), model parts with tiny random models loaded through the real loading code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from scorers import brushbench, magicbrush, pie


def _pair(side=96, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side]
    src = np.stack([x * 2, y * 2, (x + y)], -1).astype(np.float64) + rng.normal(0, 20, (side, side, 3))
    src = np.clip(src, 0, 255).astype(np.uint8)
    tgt = np.clip(src.astype(int) + rng.integers(-25, 25, src.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((side, side), bool)
    mask[20:60, 30:80] = True
    return src, tgt, mask


def test_pie_weight_free_metrics_equal_skimage_and_numpy():
    src, tgt, mask = _pair()
    got = pie.weight_free(src, tgt, mask)
    keep = (~mask)[..., None]
    a, b = src / 255.0 * keep, tgt / 255.0 * keep              # PIE: the whole image, edit region zeroed
    assert got["mse_unedited"] == pytest.approx(np.mean((a - b) ** 2), rel=1e-6)
    assert got["psnr_unedited"] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), rel=1e-6)
    ref_ssim = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=1.0, channel_axis=2)
    assert got["ssim_unedited"] == pytest.approx(ref_ssim, rel=1e-6)
    # the edit region does not count: changing it leaves every unedited metric as it was
    tgt2 = tgt.copy()
    tgt2[mask] = 0
    assert pie.weight_free(src, tgt2, mask) == got


def test_pie_edge_cases():
    src, tgt, mask = _pair()
    assert all(math.isnan(v) for v in pie.weight_free(src, tgt, np.ones_like(mask)).values())
    same = pie.weight_free(src, src, mask)
    assert same["psnr_unedited"] == pie.PSNR_CEILING and same["mse_unedited"] == 0 and same["ssim_unedited"] == 1


def test_pie_scorer_with_tiny_models(loaded_scorers, task_of, out_of):
    import torch
    import torch.nn.functional as F

    s = loaded_scorers("pie")
    src, tgt, mask = _pair(side=64)
    task = task_of(src, mask=mask, prompt="a tiger sitting on a wall")
    row = s.score(task, out_of(tgt))
    assert set(row) == set(pie.PieScorer.metrics)
    assert row["psnr_unedited"] == pytest.approx(pie.weight_free(src, tgt, mask)["psnr_unedited"])
    same = s.score(task, out_of(src))
    assert same["lpips_unedited"] == pytest.approx(0, abs=1e-6) and same["structure_distance"] == pytest.approx(0, abs=1e-9)
    assert row["lpips_unedited"] > 0 and row["structure_distance"] > 0
    # LPIPS: the lpips model called directly on PIE's masked tensors (x * 2 - 1)
    keep = torch.from_numpy((~mask).astype(np.float32))[None, None]

    def t(im):
        return (torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255 * keep) * 2 - 1

    with torch.no_grad():
        assert row["lpips_unedited"] == pytest.approx(float(s.lpips(t(src), t(tgt))), rel=1e-5)
    # structure distance: the last block's keys recomputed from the hidden states, not from the hook
    vit = s.dino.model

    def keys(im):
        with torch.no_grad():
            h = vit(pixel_values=pie.dino_input(im)[None], output_hidden_states=True,
                    interpolate_pos_encoding=True).hidden_states[-2]
            layer = vit.encoder.layer[-1] if hasattr(vit, "encoder") else vit.layers[-1]
            k = layer.attention.k_proj(layer.layernorm_before(h))[0] if hasattr(layer.attention, "k_proj") else \
                layer.attention.attention.key(layer.layernorm_before(h))[0]
        k = F.normalize(k, dim=-1)
        return k @ k.T

    assert row["structure_distance"] == pytest.approx(float(F.mse_loss(keys(tgt), keys(src))), rel=1e-4)
    # CLIP: torchmetrics' max(100 cos, 0), cos read from CLIPModel's own logits (logit_scale * cos)
    clip = s.clip
    inputs = clip.processor(text=[task.prompt], images=[tgt], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = clip.model(**inputs)
    cos = float((out.logits_per_image[0, 0] / clip.model.logit_scale.exp()).detach())
    assert row["clip_whole"] == pytest.approx(max(100 * cos, 0.0), abs=1e-3)
    assert 0 <= row["clip_edited"] <= 100


def test_pie_scorer_without_models_leaves_their_columns_nan(task_of, out_of):
    s = pie.PieScorer(models=[])
    s.check()
    src, tgt, mask = _pair()
    row = s.score(task_of(src, mask=mask, prompt="x"), out_of(tgt))
    assert not math.isnan(row["psnr_unedited"])
    assert all(math.isnan(row[m]) for m in ("lpips_unedited", "structure_distance", "clip_whole", "clip_edited"))
    assert all(math.isnan(v) for v in s.score(task_of(src, mask=mask), out_of(tgt[:32])).values())   # PIE asserts shapes


def test_missing_protocol_weights_name_the_expected_path(tmp_path, monkeypatch):
    from harness.core.errors import WeightsNotFound

    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsNotFound, match="lpips"):
        pie.PieScorer().check()
    (tmp_path / "lpips").mkdir()
    with pytest.raises(WeightsNotFound, match="squeezenet1_1.pth"):
        pie.PieScorer(models=["lpips"]).check()
    with pytest.raises(WeightsNotFound, match="dino-vits16"):
        magicbrush.MagicBrushScorer(models=["dino"]).check()


def test_brushbench_published_and_per_channel_variants():
    src, tgt, mask = _pair(side=512)
    keep = ~mask
    got = brushbench.masked_errors(src, tgt, keep)
    d = (src.astype(np.float64) - tgt) / 255
    per_value = (d[keep] ** 2).mean()                       # over the kept pixels and their 3 channels
    assert got["mse_unmasked"] == pytest.approx(per_value, rel=1e-6)
    assert got["mse_unmasked_published"] == pytest.approx(3 * per_value, rel=1e-6)     # 3-channel sum / 1-channel count
    assert got["psnr_unmasked"] == pytest.approx(10 * math.log10(1 / per_value), rel=1e-6)
    assert got["psnr_unmasked"] - got["psnr_unmasked_published"] == pytest.approx(10 * math.log10(3), abs=1e-6)
    same = brushbench.masked_errors(src, src, keep)
    assert same["psnr_unmasked_published"] == 1000.0 and same["psnr_unmasked"] == 100.0


def test_brushbench_scorer_reads_the_kept_region(loaded_scorers, task_of, out_of):
    s = brushbench.BrushBenchScorer(models=[])
    src, tgt, mask = _pair(side=512)
    out = src.copy()
    out[mask] = tgt[mask]                       # only the painted region changed
    row = s.score(task_of(src, mask=mask, prompt="a red car"), out_of(out))
    assert row["mse_unmasked"] == 0 and math.isnan(row["lpips_unmasked"]) and math.isnan(row["clip_similarity"])
    s = loaded_scorers("brushbench")
    src, tgt, mask = _pair(side=64)             # not 512 x 512: both resized as BrushNet does
    row = s.score(task_of(src, mask=mask, prompt="a red car"), out_of(tgt))
    src512, tgt512 = brushbench.to_512(src), brushbench.to_512(tgt)
    keep512 = ~brushbench.mask_512(mask)
    assert keep512.sum() == (~mask).sum() * 64                      # nearest neighbour: 8 x 8 per pixel
    assert row["mse_unmasked"] == pytest.approx(brushbench.masked_errors(src512, tgt512, keep512)["mse_unmasked"])
    assert 0 <= row["clip_similarity"] <= 100


def test_magicbrush_l1_and_model_similarities(loaded_scorers, task_of, out_of):
    from PIL import Image

    s = loaded_scorers("magicbrush")
    src, tgt, mask = _pair(side=64)
    row = s.score(task_of(src, mask=mask, target=tgt, instruction="x", kind="instruct"), out_of(src))
    assert row["l1"] == pytest.approx(np.abs(src / 255.0 - tgt / 255.0).mean(), rel=1e-9)
    assert -1 <= row["clip_i"] < 1 and -1 <= row["dino"] < 1 and math.isnan(row["clip_t"])   # no caption
    same = s.score(task_of(src, target=src, prompt="a photo", kind="instruct"), out_of(src))
    assert same["l1"] == 0 and same["clip_i"] == pytest.approx(1, abs=1e-5) and same["dino"] == pytest.approx(1, abs=1e-5)
    assert -1 <= same["clip_t"] <= 1
    big = np.asarray(Image.fromarray(tgt).resize((128, 128)))       # another size: resized to the target's
    assert magicbrush.l1(big, src) == pytest.approx(
        np.abs(np.asarray(Image.fromarray(big).resize((64, 64))) / 255.0 - src / 255.0).mean())
