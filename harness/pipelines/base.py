"""The pipeline adapter interface and the pipeline registry.

A pipeline adapter wraps one outside system (a diffusers pipeline, OpenCV, the toy DDPM). It is
built from a :class:`~harness.contract.spec.PipelineSpec`, ``load()``-ed once per Ray actor and then
``run(task, seed) -> Output`` for every job routed to it. Heavy imports (torch, diffusers) belong
inside ``load()``/``run()``, so that importing the registry stays cheap.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from harness.contract.spec import PipelineSpec
from harness.core.errors import EditbenchError, format_validation_error
from harness.core.registry import Registry
from tasks.schema import Task

WEIGHTS_KINDS = ("real", "random", "trained")


@dataclass
class Output:
    """What one pipeline run produced.

    ``image`` is an RGB uint8 array of shape (H, W, 3) for image pipelines; ``array`` is a float
    array for non-image pipelines (the toy DDPM: shape (N, 5)). ``latencies_ms`` maps a stage name
    ("encode", "denoise", "decode", ...) to milliseconds; ``latency_ms`` is the whole run.
    ``weights`` is one of ``real`` | ``random`` | ``trained``.
    """

    image: np.ndarray | None = None
    array: np.ndarray | None = None
    latencies_ms: dict[str, float] = field(default_factory=dict)
    latency_ms: float = float("nan")
    weights: str = "real"
    # Adapter-specific row columns (scalars), e.g. a hosted adapter's http_attempts and cost_usd.
    # An exception with an ``extras`` dict gives its error row the same columns.
    extras: dict[str, Any] = field(default_factory=dict)
    # The per-task options this run applied ({name: effective value} of the pipeline's task_options);
    # set by Pipeline.run. Rows record them as param.<name>; scorers compare against the task with them.
    applied: dict[str, Any] = field(default_factory=dict)

    def check_finite(self) -> None:
        """Raise ``ValueError`` if the output holds NaN or inf (such a row is an error, not a result)."""
        for name in ("image", "array"):
            v = getattr(self, name)
            if v is not None and np.issubdtype(np.asarray(v).dtype, np.floating) and not np.isfinite(v).all():
                raise ValueError(f"pipeline output {name} contains non-finite values (NaN or inf)")
        if self.image is None and self.array is None:
            raise ValueError("pipeline returned neither an image nor an array")


class StageTimer:
    """Collects per-stage wall-clock latencies in ms; ``sync`` is called before each reading
    (``torch.cuda.synchronize`` on GPU so that asynchronous kernels are counted in their stage)."""

    def __init__(self, sync: Callable[[], None] | None = None):
        self.ms: dict[str, float] = {}
        self._sync = sync or (lambda: None)

    @contextmanager
    def stage(self, name: str):
        self._sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - t0) * 1e3


class Pipeline:
    """Base class of all adapters. Subclasses set ``name``, ``kinds`` and ``Options``."""

    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]           # task kinds this pipeline can run
    needs_weights: ClassVar[bool] = False
    wall_latency: ClassVar[bool] = True       # False: a NaN latency_ms stays NaN (unknown), never the wall clock
    uses_gpu: ClassVar[bool] = False          # actors get a GPU (num_gpus) when the cluster has them
    # Names a task may override (``task.overrides``): Options fields applied per task, plus task geometry
    # that the adapter reads from the task itself (e.g. "outpaint"). Anything else a task overrides is
    # refused before any work (harness.overrides.check_overrides).
    task_options: ClassVar[frozenset[str]] = frozenset()
    # Jobs one actor runs at once. False: one at a time (the actor holds RunSpec.queue_depth jobs, one
    # running). True: up to PipelineSpec.concurrency jobs run at once on the actor's threads; the adapter
    # must be thread-safe (hosted adapters: I/O-bound requests, see harness.pipelines.hosted).
    concurrent: ClassVar[bool] = False
    default_concurrency: ClassVar[int | None] = None   # jobs in flight per actor; None: RunSpec.queue_depth

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, spec: PipelineSpec):
        self.spec = spec
        self._task = threading.local()   # per-thread effective options inside applied()
        try:
            self.options = self.Options(**spec.options)
        except ValidationError as e:
            raise EditbenchError(format_validation_error(e, where=f"options of pipeline {spec.key}")) from None

    @property
    def options(self) -> BaseModel:
        """The effective options: the running task's (:meth:`applied`, per thread), else the pipeline's."""
        return getattr(self._task, "options", None) or self._options

    @options.setter
    def options(self, value: BaseModel) -> None:
        self._options = value

    def describe(self) -> dict[str, Any]:
        """Config and weight source, recorded in run.json."""
        return {
            "name": self.name,
            "label": self.spec.key,
            "options": self.options.model_dump(mode="json"),
            "weights": self.spec.weights,
        }

    def check(self) -> None:
        """Validate before any work starts (e.g. that weight files exist where expected).

        Raise :class:`~harness.core.errors.WeightsNotFound` naming the expected path. Runs in the driver,
        so it must not load models.
        """

    def load(self) -> None:
        """Load weights/models. Called once per actor, before the first ``run``."""

    def run(self, task: Task, seed: int) -> Output:
        """Run one task with its overrides applied (see :meth:`applied`); adapters implement :meth:`execute`."""
        if task.kind not in self.kinds:
            raise EditbenchError(f"pipeline {self.name} cannot run task {task.task_id} of kind {task.kind}; "
                                 f"it runs {sorted(self.kinds)}.")
        with self.applied(task) as options:
            output = self.execute(task, seed)
        output.applied = {k: getattr(options, k) for k in sorted(self.task_options) if k in type(options).model_fields}
        return output

    def execute(self, task: Task, seed: int) -> Output:  # pragma: no cover - interface
        """The adapter's work for one task; ``self.options`` already holds the task's overrides."""
        raise NotImplementedError

    def options_for(self, task: Task) -> BaseModel:
        """This pipeline's options with ``task.overrides`` applied (the options themselves when none)."""
        fields = {k: v for k, v in task.overrides.items() if k in type(self._options).model_fields}
        if not fields:
            return self._options
        try:
            return self.Options(**{**self.spec.options, **fields})
        except ValidationError as e:
            raise EditbenchError(format_validation_error(
                e, where=f"overrides of task {task.task_id} for pipeline {self.spec.key}")) from None

    @contextmanager
    def applied(self, task: Task):
        """Run one task with its overrides: ``self.options`` is the effective options inside the block.

        The one place where task overrides reach an adapter (:meth:`harness.execution.worker.Worker.generate`). The
        override is per thread, so a concurrent actor runs tasks with different overrides side by side.
        """
        self._task.options = self.options_for(task)
        try:
            yield self._task.options
        finally:
            del self._task.options

    def resolved(self) -> dict[str, str]:
        """What actually ran after ``load()`` (e.g. {"device": "cuda:0", "dtype": "float16"}); {} when n/a."""
        return {}


# Every pipeline, registered in one line: name -> "module:Class". Listing names imports nothing; the
# adapter module is imported when the pipeline is first used (its heavy imports stay inside methods).
PIPELINES: Registry[type[Pipeline]] = Registry("pipeline", group="editbench.pipelines", entries={
    "toy-naive": "harness.pipelines.toy:ToyNaive",
    "toy-repaint": "harness.pipelines.toy:ToyRepaint",
    "toy-unconditional": "harness.pipelines.toy:ToyUnconditional",
    "synthetic": "harness.pipelines.synthetic:Synthetic",
    "cv2-telea": "harness.pipelines.opencv:Cv2Telea",
    "cv2-ns": "harness.pipelines.opencv:Cv2NS",
    "patchmatch": "harness.pipelines.patchmatch:PatchMatch",
    "sd-inpaint": "harness.pipelines.sd_inpaint:SDInpaint",
    "sdxl-inpaint": "harness.pipelines.sdxl_inpaint:SDXLInpaint",
    "sd-inpaint-openpose": "harness.pipelines.sd_inpaint_openpose:SDInpaintOpenPose",
    "flux-fill": "harness.pipelines.flux_fill:FluxFill",
    "flux-kontext": "harness.pipelines.flux_kontext:FluxKontext",
    "sdedit": "harness.pipelines.sdedit:SDEdit",
    "instruct-pix2pix": "harness.pipelines.instruct_pix2pix:InstructPix2Pix",
    "repaint": "harness.pipelines.repaint:RePaint",
    "gpt-image": "harness.pipelines.gpt_image:GptImage",
    "precomputed": "harness.pipelines.precomputed:Precomputed",
})


def pipeline_names() -> list[str]:
    return PIPELINES.names()


def get_pipeline_class(name: str) -> type[Pipeline]:
    return PIPELINES.get(name)


def task_option_names(kind: str | None) -> frozenset[str]:
    """Names some registered pipeline that runs tasks of ``kind`` takes per task (all kinds: None)."""
    names: set[str] = set()
    for cls in PIPELINES.values():
        if kind is None or kind in cls.kinds:
            names |= cls.task_options
    return frozenset(names)


def build_pipeline(spec: PipelineSpec) -> Pipeline:
    return get_pipeline_class(spec.name)(spec)
