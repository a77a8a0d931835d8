"""``flux-fill``: FLUX.1 Fill inpainting/outpainting (diffusers ``FluxFillPipeline``).

Flux works on 2x2-packed latents, so the working size is a multiple of 16 (VAE factor x 2). Its
native size (``default_sample_size`` x VAE factor) is 1024 px for the released model.
"""

from __future__ import annotations

from typing import Any

from harness.pipelines.architectures import flux_components
from harness.pipelines.diffusers_common import DiffusersInpaint, FluxGeometry
from harness.pipelines.editing import MASK_KINDS, DiffusionOptions
from tasks.schema import Task


class FluxFillOptions(DiffusionOptions):
    guidance: float = 30.0          # FLUX.1 Fill's distilled guidance (diffusers' default)
    steps: int = 50


class FluxFill(FluxGeometry, DiffusersInpaint):
    name = "flux-fill"
    kinds = MASK_KINDS
    pipeline_class = "FluxFillPipeline"
    denoisers = ("transformer",)
    gpu_dtype = "bfloat16"
    Options = FluxFillOptions

    def call_kwargs(self, inputs, task: Task, hw) -> dict[str, Any]:
        # FLUX.1 Fill has no negative prompt (guidance is distilled into the transformer).
        return dict(prompt=task.prompt, guidance_scale=float(self.options.guidance),
                    strength=float(self.options.strength))

    def random_components(self, device, dtype):
        return flux_components(device, dtype, fill=True)
