"""``flux-kontext``: FLUX.1 Kontext instruction editing (diffusers ``FluxKontextPipeline``), no mask.

The text is the task's ``instruction`` (falling back to ``prompt``). diffusers would snap the image
to one of Kontext's preferred resolutions; the adapter turns that off (``_auto_resize=False``) and
asks for the working size's area, so the edit happens at the size the options say.
"""

from __future__ import annotations

from typing import Any

from harness.pipelines.architectures import flux_components
from harness.pipelines.diffusers_common import (
    DiffusersImageEdit,
    FluxGeometry,
    edit_text,
)
from harness.pipelines.editing import EDIT_TASK_OPTIONS, DiffusionOptions
from tasks.schema import Task


class KontextOptions(DiffusionOptions):
    guidance: float = 2.5          # distilled guidance (diffusers' example value for Kontext)
    steps: int = 28


class FluxKontext(FluxGeometry, DiffusersImageEdit):
    name = "flux-kontext"
    kinds = frozenset({"instruct"})
    pipeline_class = "FluxKontextPipeline"
    denoisers = ("transformer",)
    gpu_dtype = "bfloat16"
    task_options = EDIT_TASK_OPTIONS | {"steps", "guidance"}   # no strength: Kontext edits from noise
    Options = KontextOptions

    def call_kwargs(self, task: Task, hw) -> dict[str, Any]:
        return dict(prompt=edit_text(task), guidance_scale=float(self.options.guidance),
                    height=hw[0], width=hw[1], max_area=hw[0] * hw[1], _auto_resize=False)

    def random_components(self, device, dtype):
        return flux_components(device, dtype, fill=False)
