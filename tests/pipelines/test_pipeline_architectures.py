"""``weights: random`` builds the published architectures: checked on the meta device (no memory),
against the released models' parameter counts."""

from __future__ import annotations

import pytest
import torch

from harness.pipelines import architectures as A


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_sd15_inpaint_architecture():
    c = A.sd15_inpaint_components("meta", torch.float32)
    # SD-1.5 UNet: 859,520,964 params; the 9-channel conv_in adds 5 x 320 x 3 x 3.
    assert n_params(c["unet"]) == 859_520_964 + 5 * 320 * 9
    assert c["unet"].config.in_channels == 9
    assert n_params(c["text_encoder"]) == 123_060_480          # CLIP ViT-L/14 text tower
    assert n_params(c["vae"]) == 83_653_863


def test_sdxl_inpaint_architecture():
    c = A.sdxl_inpaint_components("meta", torch.float32)
    assert n_params(c["unet"]) == 2_567_463_684 + 5 * 320 * 9   # SDXL base UNet + 9-channel conv_in
    assert n_params(c["text_encoder_2"]) == 694_659_840        # OpenCLIP bigG text tower with projection


def test_flux_architectures():
    fill = A.flux_components("meta", torch.bfloat16, fill=True)
    dev = A.flux_components("meta", torch.bfloat16, fill=False)
    assert n_params(dev["transformer"]) == 11_901_408_320       # FLUX.1-dev
    assert n_params(fill["transformer"]) - n_params(dev["transformer"]) == (384 - 64) * 3072
    assert n_params(dev["text_encoder_2"]) == 4_762_310_656     # T5-v1.1-XXL encoder


def test_tokenizers_fit_the_encoders(tmp_path):
    clip = A.write_clip_tokenizer(tmp_path)
    ids = clip("a photo of an astronaut", padding="max_length", max_length=77).input_ids
    assert len(ids) == 77 and max(ids) < A.CLIP_L["vocab_size"]
    t5 = A.t5_tokenizer()
    assert max(t5("make the sky green").input_ids) < A.T5_XXL["vocab_size"]


@pytest.mark.parametrize("name", ["sd-inpaint", "sdxl-inpaint", "sd-inpaint-openpose", "sdedit", "instruct-pix2pix",
                                  "repaint", "flux-fill", "flux-kontext"])
def test_random_weights_need_no_files(name, monkeypatch, tmp_path):
    from harness.contract.spec import PipelineSpec
    from harness.pipelines.base import build_pipeline

    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path / "empty"))
    p = build_pipeline(PipelineSpec(name=name, weights="random"))
    p.check()
    assert p.weights_kind() == "random"
    comps = p.random_components("meta", torch.float32)
    den = comps.get("unet") or comps.get("transformer")
    assert n_params(den) > 100_000_000
