"""``sdxl-inpaint``: SDXL inpainting (diffusers ``StableDiffusionXLInpaintPipeline``), e.g.
diffusers/stable-diffusion-xl-1.0-inpainting-0.1 (9-channel UNet, 1024 px native). Outpaints too."""

from __future__ import annotations

from harness.pipelines.architectures import sdxl_inpaint_components
from harness.pipelines.diffusers_common import DiffusersInpaint
from harness.pipelines.editing import MASK_KINDS


class SDXLInpaint(DiffusersInpaint):
    name = "sdxl-inpaint"
    kinds = MASK_KINDS
    pipeline_class = "StableDiffusionXLInpaintPipeline"

    def random_components(self, device, dtype):
        return sdxl_inpaint_components(device, dtype)
