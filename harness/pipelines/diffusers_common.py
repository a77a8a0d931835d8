"""What the diffusers adapters share: weight sources, device/dtype, seeding and stage timing.

Weight sources (``PipelineSpec.weights``):
- a local diffusers folder (``model_index.json`` inside) -> ``from_pretrained(local_files_only=True)``;
- a single-file checkpoint (.safetensors/.ckpt) -> ``from_single_file(config=options.single_file_config)``,
  a local diffusers folder holding the configs (no download);
- ``random`` -> the full-size published architecture from :mod:`harness.pipelines.architectures`;
- unset -> ``$EDITBENCH_WEIGHTS/<pipeline name>`` (a diffusers folder).

Stage timing (:class:`StageProbe`): the adapter calls the diffusers pipeline once, unmodified, so
that harness latency is the library's latency. Hooks mark two instants inside that call: the first
forward of the denoiser (UNet / transformer / ControlNet) and the first ``vae.decode``. ``encode`` is
call start -> first denoiser forward (prompt encoding, image preprocessing, VAE encoding, latent
setup), ``denoise`` is -> ``vae.decode`` (all steps and scheduler updates), ``decode`` is -> call end
(VAE decode and the pipeline's postprocessing). ``sync`` (``torch.cuda.synchronize`` on GPU) runs at
each mark so asynchronous kernels land in their own stage. Pipelines without a VAE (RePaint) report
``decode`` = 0: their tensor -> image conversion is inside ``denoise``'s last instant.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from harness.core.errors import EditbenchError, WeightsNotFound
from harness.core.hub import hub_commit, is_hub_id
from harness.core.pixels import resolve_device
from harness.core.weights import resolve_weights
from harness.pipelines.base import StageTimer
from harness.pipelines.editing import DIFFUSION_TASK_OPTIONS, DiffusionOptions, EditPipeline
from harness.pipelines.imaging import float_to_uint8, resize, to_pil, work_size
from tasks.schema import Task

DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def resolve_dtype(dtype: str, device: str, *, gpu_default: str):
    """torch dtype: "auto" -> float32 on CPU, ``gpu_default`` (float16 / bfloat16) on GPU."""
    import torch

    name = (gpu_default if device.startswith("cuda") else "float32") if dtype == "auto" else dtype
    return getattr(torch, DTYPES[name])


class StageProbe:
    """Marks the first denoiser forward and the first ``vae.decode`` inside one pipeline call (see
    the module docstring); :meth:`split` returns ``{"encode", "denoise", "decode"}`` in ms."""

    def __init__(self, denoisers: list, vae=None, sync: Callable[[], None] | None = None):
        self.denoisers, self.vae = [d for d in denoisers if d is not None], vae
        self.sync = sync or (lambda: None)

    def _now(self) -> float:
        self.sync()
        return time.perf_counter()

    def _pre(self, module, args):
        if self.t_denoise is None:
            self.t_denoise = self._now()

    def __enter__(self) -> "StageProbe":
        self.t_denoise = self.t_decode = None
        self.handles = [d.register_forward_pre_hook(self._pre) for d in self.denoisers]
        if self.vae is not None:
            original = self.vae.decode

            def decode(*args, **kwargs):
                if self.t_decode is None:
                    self.t_decode = self._now()
                return original(*args, **kwargs)

            self.vae.decode = decode
        self.t0 = self._now()
        return self

    def __exit__(self, *exc) -> None:
        self.t_end = self._now()
        for h in self.handles:
            h.remove()
        if self.vae is not None:
            del self.vae.decode          # drop the instance attribute: the class method is back

    def split(self) -> dict[str, float]:
        t_den = self.t_denoise if self.t_denoise is not None else self.t_end
        t_dec = self.t_decode if self.t_decode is not None else self.t_end
        return {"encode": (t_den - self.t0) * 1e3, "denoise": (t_dec - t_den) * 1e3,
                "decode": (self.t_end - t_dec) * 1e3}


# Stable Diffusion pipelines load without their NSFW safety checker: it would black out outputs and
# distort every metric computed on them.
NO_SAFETY_CHECKER: dict[str, Any] = {"safety_checker": None, "requires_safety_checker": False}


class FluxGeometry:
    """Working-size rules shared by the Flux adapters (packed 2x2 latents)."""

    @property
    def size_multiple(self) -> int:  # type: ignore[override]
        return self.pipe.vae_scale_factor * 2

    def native_resolution(self) -> int:
        return int(self.pipe.default_sample_size) * int(self.pipe.vae_scale_factor)


def scheduler_class(name: str):
    """The diffusers scheduler class ``name``; an unknown name is one sentence listing the known ones."""
    import diffusers

    cls = getattr(diffusers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, diffusers.SchedulerMixin)):
        known = sorted(n for n in dir(diffusers) if n.endswith("Scheduler"))
        raise EditbenchError(f"scheduler {name!r} is not a diffusers scheduler class; known ones: {', '.join(known)}.")
    return cls


def lora_source(lora) -> Path:
    """The folder or file of a LoRA option (a local path or a Hugging Face id in the local cache)."""
    return resolve_weights("lora", lora.weights, revision=lora.revision)


class DiffusersPipeline(EditPipeline):
    """Base of the diffusers adapters. Subclasses set ``pipeline_class`` (a diffusers class name),
    ``random_components`` (for ``weights: random``) and implement ``edit`` with :meth:`call`."""

    needs_weights = True
    uses_gpu = True                                    # one actor per GPU on GPU clusters (harness.execution.runner.plan_actors)
    pipeline_class: ClassVar[str]
    denoisers: ClassVar[tuple[str, ...]] = ("unet",)   # components whose first forward starts "denoise"
    size_multiple: ClassVar[int] = 8                   # working H and W are multiples of this
    gpu_dtype: ClassVar[str] = "float16"
    task_options = DIFFUSION_TASK_OPTIONS
    Options = DiffusionOptions

    # ---- weights ----------------------------------------------------------------------------------
    @property
    def random_weights(self) -> bool:
        return self.spec.weights == "random"

    def weights_kind(self) -> str:
        return "random" if self.random_weights else "real"

    def weights_source(self) -> Path | None:
        """The folder or file to load (None for ``random``); raises WeightsNotFound naming the path."""
        if self.random_weights:
            return None
        path = resolve_weights(self.name, self.spec.weights, revision=self.spec.revision, subfolder=self.spec.subfolder)
        if path.is_dir():
            if not (path / "model_index.json").is_file():
                raise WeightsNotFound(f"weights for {self.name} at {path} are not a diffusers pipeline folder: "
                                      f"expected {path / 'model_index.json'}.")
            return path
        cfg = self.options.single_file_config
        if not cfg:
            raise WeightsNotFound(f"single-file checkpoint {path} for {self.name} needs options.single_file_config, "
                                  "a local diffusers folder with the pipeline's configs.")
        if not (Path(cfg) / "model_index.json").is_file():
            raise WeightsNotFound(f"single_file_config of {self.name} must be a diffusers folder: expected "
                                  f"{Path(cfg) / 'model_index.json'}.")
        return path

    def check(self) -> None:
        self.weights_source()
        name = getattr(self.options, "scheduler", None)
        if name:
            scheduler_class(name)
        for lo in getattr(self.options, "lora", None) or []:
            lora_source(lo)

    def describe(self) -> dict[str, Any]:
        """Adds the resolved weight source (folder, file or "random") for run.json."""
        d = super().describe()
        try:
            src = self.weights_source()
        except EditbenchError:
            src = None
        d["weights_path"] = "random" if self.random_weights else (str(src) if src else None)
        if is_hub_id(self.spec.weights) and src is not None:   # the snapshot a Hugging Face id resolved to
            d["weights_hub"] = {"id": self.spec.weights, "revision": self.spec.revision, "commit": hub_commit(src),
                                "subfolder": self.spec.subfolder, "variant": self.spec.variant}
        return d

    def resolved(self) -> dict[str, str]:
        """The device and dtype ``load()`` resolved "auto" to."""
        return {"device": self.device, "dtype": str(self.torch_dtype).removeprefix("torch.")}

    def random_components(self, device: str, dtype) -> dict[str, Any]:  # pragma: no cover - per adapter
        raise EditbenchError(f"pipeline {self.name} has no random-weight architecture; give a weights folder.")

    load_options: ClassVar[dict[str, Any]] = {}       # fixed keyword arguments for loading (see NO_SAFETY_CHECKER)

    def load_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for ``from_pretrained`` / ``from_single_file`` (e.g. no safety checker)."""
        return dict(self.load_options)

    def load(self) -> None:
        import diffusers
        import torch

        o = self.options
        self.device = resolve_device(o.device)
        self.torch_dtype = resolve_dtype(o.dtype, self.device, gpu_default=self.gpu_dtype)
        if self.device.startswith("cuda"):
            self.sync = torch.cuda.synchronize
        cls = getattr(diffusers, self.pipeline_class)
        src = self.weights_source()
        if src is None:
            pipe = cls(**self.random_components(self.device, self.torch_dtype))
        elif src.is_dir():
            pipe = cls.from_pretrained(src, torch_dtype=self.torch_dtype, local_files_only=True, variant=self.spec.variant,
                                       **self.load_kwargs())
        else:
            pipe = cls.from_single_file(str(src), config=o.single_file_config, torch_dtype=self.torch_dtype,
                                        local_files_only=True, **self.load_kwargs())
        self.apply_scheduler(pipe)
        self.apply_lora(pipe)
        pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe

    def apply_scheduler(self, pipe) -> None:
        """``options.scheduler``: the named diffusers scheduler, from the pipeline's scheduler config with
        ``options.scheduler_config`` on top."""
        name = getattr(self.options, "scheduler", None)
        if not name:
            return
        pipe.scheduler = scheduler_class(name).from_config(pipe.scheduler.config, **self.options.scheduler_config)

    def apply_lora(self, pipe) -> None:
        """``options.lora``: each adapter loaded (diffusers' ``load_lora_weights``), weighted by its scale
        (``set_adapters``), and fused into the weights when ``options.fuse_lora``."""
        loras = getattr(self.options, "lora", None) or []
        if not loras:
            return
        names = []
        for i, lo in enumerate(loras):
            src = lora_source(lo)
            name = lo.adapter_name or f"lora{i}"
            kwargs = {"weight_name": lo.weight_name or (src.name if src.is_file() else None)}
            pipe.load_lora_weights(str(src.parent if src.is_file() else src), adapter_name=name,
                                   **{k: v for k, v in kwargs.items() if v})
            names.append(name)
        pipe.set_adapters(names, adapter_weights=[lo.scale for lo in loras])
        if self.options.fuse_lora:
            pipe.fuse_lora(adapter_names=names)

    # ---- running ----------------------------------------------------------------------------------
    def native_resolution(self) -> int:
        """Long side the model was trained at: UNet/transformer sample size x VAE scale factor."""
        den = getattr(self.pipe, self.denoisers[-1])
        vae_scale = getattr(self.pipe, "vae_scale_factor", 1)
        return int(den.config.sample_size) * int(vae_scale)

    def work_hw(self, height: int, width: int) -> tuple[int, int]:
        return work_size(height, width, long_side=self.options.resolution or self.native_resolution(),
                         multiple=self.size_multiple)

    def generator(self, seed: int):
        """A CPU generator: the same seed gives the same initial noise on CPU and GPU."""
        import torch

        return torch.Generator("cpu").manual_seed(int(seed))

    def probe(self) -> StageProbe:
        return StageProbe([getattr(self.pipe, n, None) for n in self.denoisers],
                          getattr(self.pipe, "vae", None), self.sync)

    def call(self, timer: StageTimer, **kwargs) -> np.ndarray:
        """One unmodified pipeline call (``output_type="np"``) split into encode/denoise/decode;
        returns the first image as RGB uint8."""
        with self.probe() as probe:
            result = self.pipe(**kwargs, output_type="np")
        for stage, ms in probe.split().items():
            timer.ms[stage] = timer.ms.get(stage, 0.0) + ms
        return float_to_uint8(np.asarray(result.images[0], dtype=np.float32))


class DiffusersInpaint(DiffusersPipeline):
    """Mask-based diffusers adapters (inpaint, outpaint on the extended canvas, face regeneration).

    The canvas and the soft mask (white = regenerate, diffusers' inpainting convention and ours) are
    resized to the working size, passed as PIL images, and the result is resized back to the canvas.
    """

    def call_kwargs(self, inputs, task: Task, hw: tuple[int, int]) -> dict[str, Any]:
        """Pipeline-specific keyword arguments beyond image/mask/size/steps/generator."""

        return dict(prompt=task.prompt, negative_prompt=task.negative_prompt or None,
                    guidance_scale=float(self.options.guidance),
                    strength=float(self.options.strength))

    def edit(self, inputs, task: Task, seed: int, timer: StageTimer) -> np.ndarray:
        with timer.stage("prepare"):
            hw = self.work_hw(*inputs.canvas.shape[:2])
            image, mask = to_pil(resize(inputs.canvas, hw)), to_pil(resize(inputs.soft, hw))
            kwargs = self.call_kwargs(inputs, task, hw)
        out = self.call(timer, image=image, mask_image=mask, height=hw[0], width=hw[1],
                        num_inference_steps=int(self.options.steps),
                        generator=self.generator(seed), **kwargs)
        with timer.stage("finish"):
            return resize(out, inputs.canvas.shape[:2])


class DiffusersImageEdit(DiffusersPipeline):
    """Whole-image editing adapters (SDEdit, InstructPix2Pix, Kontext): no mask needed; a task mask,
    if present, is used only for ``paste_back``."""

    needs_mask = False

    def call_kwargs(self, task: Task, hw: tuple[int, int]) -> dict[str, Any]:  # pragma: no cover - per adapter
        raise NotImplementedError

    def edit(self, inputs, task: Task, seed: int, timer: StageTimer) -> np.ndarray:
        with timer.stage("prepare"):
            hw = self.work_hw(*inputs.canvas.shape[:2])
            image = to_pil(resize(inputs.canvas, hw))
            kwargs = self.call_kwargs(task, hw)
        out = self.call(timer, image=image, num_inference_steps=int(self.options.steps),
                        generator=self.generator(seed), **kwargs)
        with timer.stage("finish"):
            return resize(out, inputs.canvas.shape[:2])


def edit_text(task: Task) -> str:
    """The instruction of an instruct task (falls back to its prompt); raises when both are empty."""
    text = task.instruction or task.prompt
    if not text:
        raise EditbenchError(f"task {task.task_id} has neither an instruction nor a prompt.")
    return text
