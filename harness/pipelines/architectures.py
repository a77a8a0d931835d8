"""Published architectures as code, for ``weights: random`` (latency benchmarks without weights).

Each ``*_components(device, dtype)`` builds the full-size components of a published pipeline with
random init, straight on ``device``. Configs are copied from the released ``config.json`` files:
SD-1.5 inpainting (runwayml/stable-diffusion-inpainting), SDXL inpainting
(diffusers/stable-diffusion-xl-1.0-inpainting-0.1), FLUX.1 dev / Fill / Kontext. Tokenizers cannot be
random, so :func:`write_clip_tokenizer` / :func:`t5_tokenizer` write byte-level vocabularies (the
real ones are BPE/Unigram vocabularies of 49,408 / 32,128 tokens); prompts then map to short id
sequences inside the encoders' vocabularies, which is all a latency run needs. The test suite reuses
the same tokenizer writers for its tiny models.

Nothing here is imported at ``import harness``; torch/diffusers/transformers load inside functions.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
              num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
CLIP_BIGG = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                 num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280)
T5_XXL = dict(vocab_size=32128, d_model=4096, d_ff=10240, d_kv=64, num_layers=24, num_heads=64,
              feed_forward_proj="gated-gelu", relative_attention_num_buckets=32, tie_word_embeddings=False)

SD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
              down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
              layers_per_block=2, norm_num_groups=32, act_fn="silu", sample_size=512, scaling_factor=0.18215)
SDXL_VAE = {**SD_VAE, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True}
FLUX_VAE = {**SD_VAE, "latent_channels": 16, "sample_size": 1024, "scaling_factor": 0.3611,
            "shift_factor": 0.1159, "use_quant_conv": False, "use_post_quant_conv": False}

SD15_INPAINT_UNET = dict(
    sample_size=64, in_channels=9, out_channels=4, layers_per_block=2, attention_head_dim=8,
    block_out_channels=[320, 640, 1280, 1280], cross_attention_dim=768,
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    downsample_padding=1, flip_sin_to_cos=True, freq_shift=0, norm_num_groups=32, norm_eps=1e-5, act_fn="silu",
)
SDXL_INPAINT_UNET = dict(
    sample_size=128, in_channels=9, out_channels=4, layers_per_block=2, attention_head_dim=[5, 10, 20],
    block_out_channels=[320, 640, 1280], cross_attention_dim=2048, transformer_layers_per_block=[1, 2, 10],
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    addition_embed_type="text_time", addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816,
    use_linear_projection=True, flip_sin_to_cos=True, freq_shift=0, norm_num_groups=32, act_fn="silu",
)
FLUX_DEV_TRANSFORMER = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
                            num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768,
                            guidance_embeds=True, axes_dims_rope=(16, 56, 56))
FLUX_FILL_TRANSFORMER = {**FLUX_DEV_TRANSFORMER, "in_channels": 384, "out_channels": 64}

SD_SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                    set_alpha_to_one=False, steps_offset=1)
SDXL_SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
                      timestep_spacing="leading")
FLUX_SCHEDULER = dict(base_image_seq_len=256, base_shift=0.5, max_image_seq_len=4096, max_shift=1.15, shift=3.0,
                      use_dynamic_shifting=True)


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's reversible byte -> printable unicode map (OpenAI CLIP ``simple_tokenizer.py``)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_clip_tokenizer(folder: str | Path, *, model_max_length: int = 77):
    """Write a byte-level CLIP vocab.json + merges.txt (no merges: 514 tokens) to ``folder`` and
    return the ``CLIPTokenizer`` built from them."""
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = _bytes_to_unicode()
    vocab: dict[str, int] = {}
    for c in chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]:
        vocab[c] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=model_max_length)


def t5_tokenizer(*, model_max_length: int = 512):
    """A T5 tokenizer over a character vocabulary (pad=0, eos=1, unk=2), for random/tiny T5 encoders."""
    from transformers import T5Tokenizer

    chars = "▁abcdefghijklmnopqrstuvwxyz0123456789.,'-"
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(c, -1.0) for c in chars]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=model_max_length)


def _clip_tokenizer():
    return write_clip_tokenizer(Path(tempfile.mkdtemp(prefix="editbench-tok-")))


def sd15_inpaint_components(device: str, dtype, *, unet_in_channels: int = 9) -> dict[str, Any]:
    """Random-init SD-1.5 components (860 M-parameter UNet): 9 input channels for inpainting,
    4 for img2img (SDEdit), 8 for InstructPix2Pix."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device(device):
        unet = UNet2DConditionModel(**{**SD15_INPAINT_UNET, "in_channels": unet_in_channels})
        comps = dict(unet=unet, vae=AutoencoderKL(**SD_VAE),
                     text_encoder=CLIPTextModel(CLIPTextConfig(**CLIP_L)))
    comps = {k: v.to(dtype) for k, v in comps.items()}
    return dict(comps, tokenizer=_clip_tokenizer(), scheduler=DDIMScheduler(**SD_SCHEDULER),
                safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def sdxl_inpaint_components(device: str, dtype) -> dict[str, Any]:
    """Random-init SDXL inpainting components (9-channel UNet, 2.6 B parameters; two CLIP encoders)."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    with torch.device(device):
        comps = dict(unet=UNet2DConditionModel(**SDXL_INPAINT_UNET), vae=AutoencoderKL(**SDXL_VAE),
                     text_encoder=CLIPTextModel(CLIPTextConfig(**CLIP_L)),
                     text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_BIGG)))
    comps = {k: v.to(dtype) for k, v in comps.items()}
    tok = _clip_tokenizer()
    return dict(comps, tokenizer=tok, tokenizer_2=tok, scheduler=EulerDiscreteScheduler(**SDXL_SCHEDULER),
                requires_aesthetics_score=False, force_zeros_for_empty_prompt=True)


def flux_components(device: str, dtype, *, fill: bool) -> dict[str, Any]:
    """Random-init FLUX.1 components (12 B transformer + T5-XXL; Fill: 384 input channels)."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    with torch.device(device):
        comps = dict(transformer=FluxTransformer2DModel(**(FLUX_FILL_TRANSFORMER if fill else FLUX_DEV_TRANSFORMER)),
                     vae=AutoencoderKL(**FLUX_VAE), text_encoder=CLIPTextModel(CLIPTextConfig(**CLIP_L)),
                     text_encoder_2=T5EncoderModel(T5Config(**T5_XXL)))
    comps = {k: v.to(dtype) for k, v in comps.items()}
    return dict(comps, tokenizer=_clip_tokenizer(), tokenizer_2=t5_tokenizer(),
                scheduler=FlowMatchEulerDiscreteScheduler(**FLUX_SCHEDULER))
