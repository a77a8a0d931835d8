"""``sd-inpaint-openpose``: ControlNet-OpenPose inpainting (diffusers
``StableDiffusionControlNetInpaintPipeline``; e.g. SD-1.5-inpainting + lllyasviel/control_v11p_sd15_openpose).

The control image is the task's ``control`` field: a path to a rendered pose image (RGB, any size; it
is resized to the working size). Weights: one diffusers folder holding the whole pipeline
(``controlnet/`` included), or ``options.controlnet`` pointing to a separate ControlNet folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from harness.core.errors import EditbenchError, WeightsNotFound
from harness.core.imageio import load_image
from harness.pipelines.architectures import SD15_INPAINT_UNET, sd15_inpaint_components
from harness.pipelines.diffusers_common import NO_SAFETY_CHECKER, DiffusersInpaint
from harness.pipelines.editing import DiffusionOptions
from harness.pipelines.imaging import resize, to_pil
from tasks.schema import Task


class OpenPoseOptions(DiffusionOptions):
    controlnet_scale: float = Field(1.0, ge=0.0)   # controlnet_conditioning_scale
    controlnet: str | None = None                  # separate local ControlNet folder (default: <weights>/controlnet)


def load_control_image(task: Task, hw: tuple[int, int]):
    """The task's pose image as PIL RGB at (H, W); a clear error when the task has none."""
    if task.control is None:
        raise EditbenchError(f"task {task.task_id} has no control field; sd-inpaint-openpose needs a pose image path "
                             "in control.")
    if not isinstance(task.control, str):
        raise EditbenchError(f"task {task.task_id}: control must be a path to a pose image for sd-inpaint-openpose, "
                             f"got {type(task.control).__name__}.")
    return to_pil(resize(load_image(task.control), hw))


class SDInpaintOpenPose(DiffusersInpaint):
    name = "sd-inpaint-openpose"
    kinds = frozenset({"inpaint", "face_regen"})
    pipeline_class = "StableDiffusionControlNetInpaintPipeline"
    load_options = NO_SAFETY_CHECKER
    denoisers = ("controlnet", "unet")
    Options = OpenPoseOptions

    def check(self) -> None:
        super().check()
        cn = self.options.controlnet
        if cn and not (Path(cn) / "config.json").is_file():
            raise WeightsNotFound(f"ControlNet for {self.name} not found: expected {Path(cn) / 'config.json'}.")

    def load_kwargs(self) -> dict[str, Any]:
        kw = super().load_kwargs()
        if self.options.controlnet:
            from diffusers import ControlNetModel

            kw["controlnet"] = ControlNetModel.from_pretrained(self.options.controlnet, torch_dtype=self.torch_dtype,
                                                               local_files_only=True)
        return kw

    def call_kwargs(self, inputs, task: Task, hw) -> dict[str, Any]:
        kw = super().call_kwargs(inputs, task, hw)
        return dict(kw, control_image=load_control_image(task, hw),
                    controlnet_conditioning_scale=float(self.options.controlnet_scale))

    def random_components(self, device, dtype):
        import torch
        from diffusers import ControlNetModel


        comps = sd15_inpaint_components(device, dtype)
        cfg = {k: v for k, v in SD15_INPAINT_UNET.items()
               if k not in ("sample_size", "out_channels", "up_block_types")}
        with torch.device(device):
            comps["controlnet"] = ControlNetModel(**{**cfg, "in_channels": 4}).to(dtype)
        return comps
