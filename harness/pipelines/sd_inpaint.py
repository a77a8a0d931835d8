"""``sd-inpaint``: Stable Diffusion inpainting (diffusers ``StableDiffusionInpaintPipeline``).

Runs a 9-channel inpainting UNet (latents + mask + masked-image latents, e.g. SD-1.5-inpainting) or a
plain 4-channel UNet, for which diffusers re-imposes the known region at every step (blended
inpainting). Also outpaints: the canvas is extended and the new area is the mask. The safety checker
is not loaded: the harness measures the editing model, not the filter.
"""

from __future__ import annotations

from harness.pipelines.architectures import sd15_inpaint_components
from harness.pipelines.diffusers_common import NO_SAFETY_CHECKER, DiffusersInpaint
from harness.pipelines.editing import MASK_KINDS


class SDInpaint(DiffusersInpaint):
    name = "sd-inpaint"
    kinds = MASK_KINDS
    pipeline_class = "StableDiffusionInpaintPipeline"
    load_options = NO_SAFETY_CHECKER

    def random_components(self, device, dtype):
        return sd15_inpaint_components(device, dtype)
