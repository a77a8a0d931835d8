"""Tiny random-weight diffusers pipelines, built in code and saved with ``save_pretrained``.

Each ``build_<pipeline>(folder)`` writes a diffusers folder that the adapter of that name loads
through its normal weights path (``from_pretrained(local_files_only=True)``), exactly as real weights
are loaded. Sizes: UNets at 64 px native (sample_size 32 x VAE factor 2), text encoders of width 32.
Reusable by any test: ``build_all(root)`` returns {pipeline name: folder}.
"""

from __future__ import annotations

from pathlib import Path

import torch

from harness.pipelines.architectures import t5_tokenizer, write_clip_tokenizer

TEXT_DIM = 32


def _seed(n: int = 0) -> None:
    torch.manual_seed(n)


def clip_text(*, projection: bool = False, hidden: int = TEXT_DIM):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(vocab_size=1000, hidden_size=hidden, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, projection_dim=hidden,
                         bos_token_id=512, eos_token_id=513, pad_token_id=1)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(cfg)


def vae(*, latent_channels: int = 4, **extra):
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=latent_channels,
                         down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                         layers_per_block=1, norm_num_groups=32, sample_size=64, **extra)


def unet(*, in_channels: int, cross_attention_dim: int = TEXT_DIM, **extra):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(sample_size=32, in_channels=in_channels, out_channels=4, layers_per_block=1,
                                block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                cross_attention_dim=cross_attention_dim, attention_head_dim=8, norm_num_groups=32,
                                **extra)


def ddim():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1)


def sd_components(folder: Path, *, in_channels: int) -> dict:
    _seed()
    return dict(unet=unet(in_channels=in_channels), vae=vae(), text_encoder=clip_text(),
                tokenizer=write_clip_tokenizer(folder / "_tok"), scheduler=ddim(), safety_checker=None,
                feature_extractor=None, requires_safety_checker=False)


def _save(pipe, folder: Path) -> Path:
    pipe.save_pretrained(folder)
    return folder


def build_sd_inpaint(folder: Path, *, in_channels: int = 9) -> Path:
    from diffusers import StableDiffusionInpaintPipeline

    return _save(StableDiffusionInpaintPipeline(**sd_components(folder, in_channels=in_channels)), folder)


def build_sdedit(folder: Path) -> Path:
    from diffusers import StableDiffusionImg2ImgPipeline

    return _save(StableDiffusionImg2ImgPipeline(**sd_components(folder, in_channels=4)), folder)


def build_instruct_pix2pix(folder: Path) -> Path:
    from diffusers import StableDiffusionInstructPix2PixPipeline

    return _save(StableDiffusionInstructPix2PixPipeline(**sd_components(folder, in_channels=8)), folder)


def build_sd_inpaint_openpose(folder: Path) -> Path:
    from diffusers import ControlNetModel, StableDiffusionControlNetInpaintPipeline

    comps = sd_components(folder, in_channels=9)
    cn = ControlNetModel(in_channels=4, conditioning_channels=3, block_out_channels=(32, 64), layers_per_block=1,
                         down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), cross_attention_dim=TEXT_DIM,
                         attention_head_dim=8, norm_num_groups=32, conditioning_embedding_out_channels=(16, 32))
    return _save(StableDiffusionControlNetInpaintPipeline(controlnet=cn, **comps), folder)


def build_sdxl_inpaint(folder: Path) -> Path:
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLInpaintPipeline

    _seed()
    # text_time embedding: 2 text encoders (32 + 32 = 64 cross-attention dims), pooled 32 + 6 x 8 time ids
    u = unet(in_channels=9, cross_attention_dim=2 * TEXT_DIM, addition_embed_type="text_time",
             addition_time_embed_dim=8, projection_class_embeddings_input_dim=TEXT_DIM + 6 * 8,
             transformer_layers_per_block=(1, 2), use_linear_projection=True)
    tok = write_clip_tokenizer(folder / "_tok")
    sched = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
                                   timestep_spacing="leading")
    pipe = StableDiffusionXLInpaintPipeline(unet=u, vae=vae(), text_encoder=clip_text(),
                                            text_encoder_2=clip_text(projection=True), tokenizer=tok,
                                            tokenizer_2=tok, scheduler=sched, requires_aesthetics_score=False)
    return _save(pipe, folder)


def build_repaint(folder: Path) -> Path:
    from diffusers import RePaintPipeline, RePaintScheduler, UNet2DModel

    _seed()
    u = UNet2DModel(sample_size=64, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(32, 64),
                    down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                    norm_num_groups=32)
    return _save(RePaintPipeline(unet=u, scheduler=RePaintScheduler(num_train_timesteps=1000)), folder)


def _flux(folder: Path, *, in_channels: int, out_channels: int | None, cls_name: str) -> Path:
    import diffusers
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    _seed()
    tr = FluxTransformer2DModel(patch_size=1, in_channels=in_channels, out_channels=out_channels, num_layers=1,
                                num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
                                joint_attention_dim=32, pooled_projection_dim=TEXT_DIM, guidance_embeds=True,
                                axes_dims_rope=(4, 6, 6))
    t5 = T5EncoderModel(T5Config(vocab_size=64, d_model=32, d_ff=37, d_kv=8, num_layers=2, num_heads=4,
                                 feed_forward_proj="gated-gelu", relative_attention_num_buckets=8,
                                 tie_word_embeddings=False, decoder_start_token_id=0))
    v = vae(latent_channels=4, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.1, scaling_factor=0.5)
    sched = FlowMatchEulerDiscreteScheduler(base_image_seq_len=16, max_image_seq_len=256, use_dynamic_shifting=True)
    cls = getattr(diffusers, cls_name)
    pipe = cls(transformer=tr, vae=v, text_encoder=clip_text(), tokenizer=write_clip_tokenizer(folder / "_tok"),
               text_encoder_2=t5, tokenizer_2=t5_tokenizer(model_max_length=32), scheduler=sched)
    return _save(pipe, folder)


def build_flux_fill(folder: Path) -> Path:
    # Fill input channels: packed (2x2) noisy latents 4*4 + packed masked-image latents 4*4 + packed mask
    # (VAE factor^2 = 4 channels) 4*4 = 48; output: packed latents 16. (Released: 64 + 64 + 256 = 384 -> 64.)
    return _flux(folder, in_channels=48, out_channels=16, cls_name="FluxFillPipeline")


def build_flux_kontext(folder: Path) -> Path:
    return _flux(folder, in_channels=16, out_channels=None, cls_name="FluxKontextPipeline")


BUILDERS = {
    "sd-inpaint": build_sd_inpaint,
    "sdxl-inpaint": build_sdxl_inpaint,
    "sd-inpaint-openpose": build_sd_inpaint_openpose,
    "sdedit": build_sdedit,
    "instruct-pix2pix": build_instruct_pix2pix,
    "repaint": build_repaint,
    "flux-fill": build_flux_fill,
    "flux-kontext": build_flux_kontext,
}


def build_all(root: Path, names=None) -> dict[str, Path]:
    """Build the tiny pipelines ``names`` (default: all) under ``root``; {pipeline name: folder}."""
    return {n: BUILDERS[n](Path(root) / n) for n in (names or BUILDERS)}


# ---- single-file (original LDM layout) checkpoints --------------------------------------------------

_RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"), ("conv2", "out_layers.3"),
           ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection")]


def _unet_to_ldm(sd: dict, config) -> dict:
    """diffusers UNet2DConditionModel keys -> original SD ``model.diffusion_model.*`` keys (any number of
    blocks and ``layers_per_block``: block i's layer j is input block (lpb+1)*i + j + 1)."""
    lpb, n = config.layers_per_block, len(config.block_out_channels)
    prefix_map = {"time_embedding.linear_1.": "time_embed.0.", "time_embedding.linear_2.": "time_embed.2.",
                  "conv_in.": "input_blocks.0.0.", "conv_norm_out.": "out.0.", "conv_out.": "out.2.",
                  "mid_block.resnets.0.": "middle_block.0.", "mid_block.attentions.0.": "middle_block.1.",
                  "mid_block.resnets.1.": "middle_block.2."}
    for i in range(n):
        for j in range(lpb):
            prefix_map[f"down_blocks.{i}.resnets.{j}."] = f"input_blocks.{(lpb + 1) * i + j + 1}.0."
            prefix_map[f"down_blocks.{i}.attentions.{j}."] = f"input_blocks.{(lpb + 1) * i + j + 1}.1."
        prefix_map[f"down_blocks.{i}.downsamplers.0.conv."] = f"input_blocks.{(lpb + 1) * (i + 1)}.0.op."
        for j in range(lpb + 1):
            prefix_map[f"up_blocks.{i}.resnets.{j}."] = f"output_blocks.{(lpb + 1) * i + j}.0."
            prefix_map[f"up_blocks.{i}.attentions.{j}."] = f"output_blocks.{(lpb + 1) * i + j}.1."
        has_attn = any(k.startswith(f"up_blocks.{i}.attentions.") for k in sd)
        prefix_map[f"up_blocks.{i}.upsamplers.0."] = f"output_blocks.{(lpb + 1) * i + lpb}.{2 if has_attn else 1}."
    out = {}
    for k, v in sd.items():
        new = k
        for hf, ldm in prefix_map.items():
            if k.startswith(hf):
                rest = k[len(hf):]
                if "resnets" in hf:
                    for a, b in _RESNET:
                        rest = rest.replace(a, b) if rest.startswith(a) else rest
                new = ldm + rest
                break
        out["model.diffusion_model." + new] = v
    return out


def _vae_to_ldm(sd: dict, config) -> dict:
    """diffusers AutoencoderKL keys -> original ``first_stage_model.*`` keys."""
    n = len(config.block_out_channels)
    rules = []
    for i in range(n):
        rules += [(f"encoder.down_blocks.{i}.resnets.", f"encoder.down.{i}.block."),
                  (f"encoder.down_blocks.{i}.downsamplers.0.", f"encoder.down.{i}.downsample."),
                  (f"decoder.up_blocks.{i}.resnets.", f"decoder.up.{n - 1 - i}.block."),
                  (f"decoder.up_blocks.{i}.upsamplers.0.", f"decoder.up.{n - 1 - i}.upsample.")]
    rules += [(f"{p}.mid_block.resnets.{j}.", f"{p}.mid.block_{j + 1}.")
              for p in ("encoder", "decoder") for j in (0, 1)]
    rules += [(f"{p}.mid_block.attentions.0.", f"{p}.mid.attn_1.") for p in ("encoder", "decoder")]
    rules += [("encoder.conv_norm_out.", "encoder.norm_out."), ("decoder.conv_norm_out.", "decoder.norm_out.")]
    attn = {"group_norm.": "norm.", "to_q.": "q.", "to_k.": "k.", "to_v.": "v.", "to_out.0.": "proj_out."}
    out = {}
    for k, v in sd.items():
        new = k
        for hf, ldm in rules:
            if k.startswith(hf):
                rest = k[len(hf):].replace("conv_shortcut", "nin_shortcut")
                if ".attn_1." in ldm:
                    for a, b in attn.items():
                        if rest.startswith(a):
                            rest = b + rest[len(a):]
                            if v.ndim == 2:
                                v = v[:, :, None, None]          # linear -> 1x1 conv
                new = ldm + rest
                break
        out["first_stage_model." + new] = v
    return out


def write_sd_single_file(pipeline_folder: Path, path: Path) -> Path:
    """Write the UNet, VAE and CLIP text encoder of a saved tiny SD pipeline as one original-layout
    (LDM) ``.safetensors`` checkpoint, as a single-file download of SD-1.x would be."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextModel

    unet = UNet2DConditionModel.from_pretrained(pipeline_folder, subfolder="unet")
    vae_m = AutoencoderKL.from_pretrained(pipeline_folder, subfolder="vae")
    text = CLIPTextModel.from_pretrained(pipeline_folder / "text_encoder")
    state = {**_unet_to_ldm(unet.state_dict(), unet.config), **_vae_to_ldm(vae_m.state_dict(), vae_m.config),
             **{"cond_stage_model.transformer." + ("" if k.startswith("text_model.") else "text_model.") + k: v
                for k, v in text.state_dict().items()}}
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def build_sam(folder: Path, *, image_size: int = 64) -> Path:
    """A SamModel shrunk to a ``image_size`` px input (8 px patches, 2 ViT layers of width 32) with a
    SamProcessor whose resize/pad target is that size (the default 1024 would not fit the model)."""
    from transformers import (
        SamConfig,
        SamImageProcessor,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    _seed()
    vision = SamVisionConfig(hidden_size=32, output_channels=16, num_hidden_layers=2, num_attention_heads=2,
                             image_size=image_size, patch_size=8, mlp_dim=64, global_attn_indexes=[1],
                             window_size=4, num_pos_feats=8)
    prompt = SamPromptEncoderConfig(hidden_size=16, image_size=image_size, patch_size=8, mask_input_channels=4)
    decoder = SamMaskDecoderConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_dim=32,
                                   iou_head_hidden_dim=16)
    model = SamModel(SamConfig(vision_config=vision.to_dict(), prompt_encoder_config=prompt.to_dict(),
                               mask_decoder_config=decoder.to_dict()))
    low = image_size // 4
    processor = SamProcessor(image_processor=SamImageProcessor(
        size={"longest_edge": image_size}, pad_size={"height": image_size, "width": image_size},
        mask_size={"longest_edge": low}, mask_pad_size={"height": low, "width": low}))
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_sam2(folder: Path, *, image_size: int = 64) -> Path:
    """A Sam2Model with a 4-stage Hiera of widths 8..64 at ``image_size`` px and decoders of width 32, saved
    with a Sam2Processor resizing to that size."""
    from transformers import Sam2Config, Sam2ImageProcessor, Sam2Model, Sam2Processor

    _seed()
    s = image_size // 4
    backbone = dict(hidden_size=8, image_size=[image_size, image_size], embed_dim_per_stage=[8, 16, 32, 64],
                    blocks_per_stage=[1, 1, 2, 1], num_attention_heads_per_stage=[1, 1, 1, 1],
                    window_size_per_stage=[4, 4, 4, 2], global_attention_blocks=[3],
                    window_positional_embedding_background_size=[2, 2], model_type="sam2_hiera_det_model")
    vision = dict(backbone_config=backbone, backbone_channel_list=[64, 32, 16, 8],
                  backbone_feature_sizes=[[s, s], [s // 2, s // 2], [s // 4, s // 4]], fpn_hidden_size=32)
    model = Sam2Model(Sam2Config(vision_config=vision, prompt_encoder_config=dict(hidden_size=32, image_size=image_size,
                                                                                 patch_size=16),
                                 mask_decoder_config=dict(hidden_size=32, mlp_dim=64, num_attention_heads=2,
                                                          iou_head_hidden_dim=32)))
    processor = Sam2Processor(image_processor=Sam2ImageProcessor(size={"height": image_size, "width": image_size},
                                                                  mask_size={"height": s, "width": s}))
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
