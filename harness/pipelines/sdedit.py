"""``sdedit``: SDEdit (Meng et al. 2022) = diffusers ``StableDiffusionImg2ImgPipeline``.

The image is noised to t = strength * T and denoised with the prompt; only ``strength * steps``
steps run. A task mask, if given, is used only for ``paste_back``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from harness.pipelines.architectures import sd15_inpaint_components
from harness.pipelines.diffusers_common import NO_SAFETY_CHECKER, DiffusersImageEdit
from harness.pipelines.editing import DiffusionOptions
from tasks.schema import Task


class SDEditOptions(DiffusionOptions):
    strength: float = Field(0.6, gt=0.0, le=1.0)   # t/T of the noised start (SDEdit's t0)


class SDEdit(DiffusersImageEdit):
    name = "sdedit"
    kinds = frozenset({"sdedit"})
    pipeline_class = "StableDiffusionImg2ImgPipeline"
    load_options = NO_SAFETY_CHECKER
    Options = SDEditOptions

    def call_kwargs(self, task: Task, hw) -> dict[str, Any]:
        return dict(prompt=task.prompt, negative_prompt=task.negative_prompt or None,
                    guidance_scale=float(self.options.guidance),
                    strength=float(self.options.strength))

    def random_components(self, device, dtype):
        return sd15_inpaint_components(device, dtype, unet_in_channels=4)
