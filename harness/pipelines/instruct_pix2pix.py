"""``instruct-pix2pix``: InstructPix2Pix (Brooks et al. 2023), diffusers
``StableDiffusionInstructPix2PixPipeline`` (8-channel UNet: latents + image latents).

Two guidance scales: ``guidance`` (text) and ``image_guidance`` (how closely to follow the input).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from harness.pipelines.architectures import sd15_inpaint_components
from harness.pipelines.diffusers_common import (
    NO_SAFETY_CHECKER,
    DiffusersImageEdit,
    edit_text,
)
from harness.pipelines.editing import EDIT_TASK_OPTIONS, DiffusionOptions
from tasks.schema import Task


class Pix2PixOptions(DiffusionOptions):
    image_guidance: float = Field(1.5, ge=1.0)   # image_guidance_scale (>= 1; 1 disables image guidance)
    steps: int = 20


class InstructPix2Pix(DiffusersImageEdit):
    name = "instruct-pix2pix"
    kinds = frozenset({"instruct"})
    pipeline_class = "StableDiffusionInstructPix2PixPipeline"
    load_options = NO_SAFETY_CHECKER
    task_options = EDIT_TASK_OPTIONS | {"steps", "guidance", "image_guidance"}   # no strength
    Options = Pix2PixOptions

    def call_kwargs(self, task: Task, hw) -> dict[str, Any]:
        if float(self.options.strength) != 1.0:
            raise ValueError("instruct-pix2pix has no strength; leave strength at 1.0")
        return dict(prompt=edit_text(task), negative_prompt=task.negative_prompt or None,
                    guidance_scale=float(self.options.guidance),
                    image_guidance_scale=float(self.options.image_guidance))

    def random_components(self, device, dtype):
        return sd15_inpaint_components(device, dtype, unet_in_channels=8)
