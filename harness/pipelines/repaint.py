"""``repaint``: RePaint (Lugmayr et al. 2022) with an unconditional ``UNet2DModel`` and diffusers'
``RePaintPipeline`` / ``RePaintScheduler`` (resampling jumps: ``jump_length``, ``jump_n_sample``).

Mask polarity is converted here: our mask is 1 = regenerate, diffusers' RePaint mask is 1 = keep
(it thresholds at 0.5). Images go in as PIL and come back in [0, 1]. There is no VAE, so the
``decode`` stage is 0. Random weights: the google/ddpm-ema-celebahq-256 UNet architecture.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from harness.pipelines.base import StageTimer
from harness.pipelines.diffusers_common import DiffusersPipeline
from harness.pipelines.editing import EDIT_TASK_OPTIONS, DeviceOptions
from harness.pipelines.imaging import keep_mask_for_repaint, resize, to_pil
from tasks.schema import Task

CELEBAHQ_256_UNET = dict(sample_size=256, in_channels=3, out_channels=3, layers_per_block=2,
                         block_out_channels=[128, 128, 256, 256, 512, 512],
                         down_block_types=["DownBlock2D"] * 4 + ["AttnDownBlock2D", "DownBlock2D"],
                         up_block_types=["UpBlock2D", "AttnUpBlock2D"] + ["UpBlock2D"] * 4)


class RePaintOptions(DeviceOptions):
    steps: int = Field(250, ge=1)          # RePaint's T (before jumps)
    jump_length: int = Field(10, ge=1)     # r: states per jump back
    jump_n_sample: int = Field(10, ge=1)   # j: times each segment is resampled
    eta: float = Field(0.0, ge=0.0, le=1.0)


class RePaint(DiffusersPipeline):
    name = "repaint"
    kinds = frozenset({"inpaint", "outpaint"})
    pipeline_class = "RePaintPipeline"
    size_multiple = 32                     # RePaint resizes masks to multiples of 32
    gpu_dtype = "float16"
    task_options = EDIT_TASK_OPTIONS | {"steps", "jump_length", "jump_n_sample", "eta"}
    Options = RePaintOptions

    def edit(self, inputs, task: Task, seed: int, timer: StageTimer) -> np.ndarray:
        o = self.options
        with timer.stage("prepare"):
            hw = self.work_hw(*inputs.canvas.shape[:2])
            image = to_pil(resize(inputs.canvas, hw))
            keep = to_pil(keep_mask_for_repaint(resize(inputs.soft, hw)))
        out = self.call(timer, image=image, mask_image=keep, num_inference_steps=int(o.steps),
                        eta=float(o.eta), jump_length=int(o.jump_length),
                        jump_n_sample=int(o.jump_n_sample), generator=self.generator(seed))
        with timer.stage("finish"):
            return resize(out, inputs.canvas.shape[:2])

    def random_components(self, device, dtype) -> dict[str, Any]:
        import torch
        from diffusers import RePaintScheduler, UNet2DModel

        with torch.device(device):
            unet = UNet2DModel(**CELEBAHQ_256_UNET).to(dtype)
        return dict(unet=unet, scheduler=RePaintScheduler(num_train_timesteps=1000))
