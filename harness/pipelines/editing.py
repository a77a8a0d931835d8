"""Options and the run skeleton shared by every image-editing adapter (classical and diffusers).

An adapter subclasses :class:`EditPipeline` and implements ``edit(inputs, task, seed, timer)``, which
returns an RGB uint8 image at canvas size. The skeleton does what must be identical across systems:
load the task (mask dilation/feather, outpaint canvas), time the stages, paste back when asked.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image
from harness.pipelines.base import Output, Pipeline, StageTimer
from harness.pipelines.imaging import EditInputs, paste_back, prepare_edit
from tasks.schema import Task

MASK_KINDS = frozenset({"inpaint", "outpaint", "face_regen"})


class EditOptions(BaseModel):
    """Options every image adapter honours. A task's ``overrides`` of the same name replace them for that
    task (the names in ``EditPipeline.task_options``)."""

    model_config = ConfigDict(extra="forbid")

    resolution: int | None = Field(None, ge=8)     # long side the system works at; None: its native size
    mask_dilate: int = Field(0, ge=0)              # grow the mask by this many px before editing
    mask_feather: int = Field(0, ge=0)             # soften the mask edge outwards over ~this many px
    paste_back: bool = False                       # composite the original outside the mask (off: measure the system)
    outpaint_fill: Literal["edge", "reflect", "gray"] = "edge"   # pre-fill of the new canvas area


class DeviceOptions(EditOptions):
    """Options of the adapters that run a torch model."""

    device: str = "auto"                           # "auto": cuda if available, else cpu
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"  # auto: float32 on CPU, fp16/bf16 on GPU
    single_file_config: str | None = None          # local diffusers folder with the configs of a single-file checkpoint


class LoraOptions(BaseModel):
    """One LoRA adapter loaded into a diffusers pipeline (``load_lora_weights`` then ``set_adapters``)."""

    model_config = ConfigDict(extra="forbid")

    weights: str                                   # a local folder/file or a Hugging Face id (local cache)
    scale: float = 1.0                             # the adapter's weight in set_adapters
    adapter_name: str | None = None                # default: lora0, lora1, ... in list order
    weight_name: str | None = None                 # the file inside the folder, when it holds several
    revision: str | None = None                    # Hugging Face id only


class DiffusionOptions(DeviceOptions):
    """Options of the text-conditioned diffusion adapters (defaults follow the diffusers pipelines)."""

    steps: int = Field(30, ge=1)                   # denoising steps
    guidance: float = 7.5                          # text classifier-free guidance scale
    strength: float = Field(1.0, gt=0.0, le=1.0)   # t/T the edit starts from (1 = from pure noise)
    scheduler: str | None = None                   # a diffusers scheduler class, e.g. "UniPCMultistepScheduler";
                                                   # built from the pipeline's scheduler config; None: the pipeline's own
    scheduler_config: dict[str, Any] = Field(default_factory=dict)   # overrides of that config
    lora: list[LoraOptions] = Field(default_factory=list)           # LoRA adapters, applied in order
    fuse_lora: bool = False                        # fuse the adapters into the weights after loading


# Per-task overrides every image adapter honours. "outpaint" (the canvas extents) is task geometry read
# from the task by harness.pipelines.imaging.prepare_edit, so scorers see the same canvas.
EDIT_TASK_OPTIONS = frozenset({"mask_dilate", "mask_feather", "outpaint_fill", "resolution", "outpaint"})
DIFFUSION_TASK_OPTIONS = EDIT_TASK_OPTIONS | {"steps", "guidance", "strength"}


class EditPipeline(Pipeline):
    """Base of the image adapters: load -> edit -> (paste back) with per-stage latencies.

    Stages: ``prepare`` (read image and mask, dilate/feather, outpaint canvas), whatever ``edit``
    records (``encode`` / ``denoise`` / ``decode`` for diffusion, ``inpaint`` for classical), and
    ``finish`` (resize to canvas, paste back).
    """

    kinds: ClassVar[frozenset[str]] = MASK_KINDS
    needs_mask: ClassVar[bool] = True           # False for sdedit / instruction editing (mask optional)
    task_options = EDIT_TASK_OPTIONS
    Options = EditOptions

    def sync(self) -> None:
        """Called at stage boundaries (overridden with torch.cuda.synchronize on GPU)."""

    def weights_kind(self) -> str:
        return "real"

    def resolved(self) -> dict[str, str]:
        return {"device": "cpu"}      # classical adapters: numpy/OpenCV on the CPU (diffusers adapters override)

    def edit(self, inputs: EditInputs, task: Task, seed: int, timer: StageTimer) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def prepare(self, task: Task) -> EditInputs:
        o = self.options
        if self.needs_mask or task.mask is not None or task.kind == "outpaint":
            return prepare_edit(task, dilate=o.mask_dilate, feather=o.mask_feather, fill=o.outpaint_fill)

        if not task.image:
            raise EditbenchError(f"task {task.task_id} has no image.")
        image = load_image(task.image)
        return EditInputs(canvas=image, mask=None, soft=None)  # type: ignore[arg-type]

    def execute(self, task: Task, seed: int) -> Output:
        timer = StageTimer(self.sync)
        with timer.stage("prepare"):
            inputs = self.prepare(task)
        image = self.edit(inputs, task, seed, timer)
        with timer.stage("finish"):
            if image.shape != inputs.canvas.shape:
                raise ValueError(f"{self.name} returned an image of shape {image.shape}, "
                                 f"expected {inputs.canvas.shape}")
            if self.options.paste_back:
                if inputs.soft is None:
                    raise EditbenchError(f"paste_back needs a mask but task {task.task_id} has none.")
                image = paste_back(image, inputs.canvas, inputs.soft)
        return Output(image=image, latencies_ms=dict(timer.ms), latency_ms=sum(timer.ms.values()),
                      weights=self.weights_kind())
