"""The pipeline adapter interface and the pipeline registry.

A pipeline adapter wraps one outside system (a diffusers pipeline, OpenCV, the toy DDPM). It is
built from a :class:`~harness.spec.PipelineSpec`, ``load()``-ed once per Ray actor and then
``run(task, seed) -> Output`` for every job routed to it. Heavy imports (torch, diffusers) belong
inside ``load()``/``run()``, so that importing the registry stays cheap.
"""

from __future__ import annotations

import importlib
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import EditbenchError, format_validation_error
from harness.spec import PipelineSpec

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
    extras: dict[str, Any] = field(default_factory=dict)

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
    uses_gpu: ClassVar[bool] = False          # actors get a GPU (num_gpus) when the cluster has them

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, spec: PipelineSpec):
        self.spec = spec
        try:
            self.options = self.Options(**spec.options)
        except ValidationError as e:
            raise EditbenchError(format_validation_error(e, where=f"options of pipeline {spec.key}")) from None

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

        Raise :class:`~harness.errors.WeightsNotFound` naming the expected path. Runs in the driver,
        so it must not load models.
        """

    def load(self) -> None:
        """Load weights/models. Called once per actor, before the first ``run``."""

    def run(self, task, seed: int) -> Output:  # pragma: no cover - interface
        raise NotImplementedError


# name -> adapter class. Filled by @register_pipeline in the modules listed in PIPELINE_MODULES.
PIPELINES: dict[str, type[Pipeline]] = {}

# Adapter modules, imported on first registry access. They must import cheaply.
PIPELINE_MODULES = [
    "harness.pipelines.toy",
    "harness.pipelines.synthetic",
    "harness.pipelines.opencv",
    "harness.pipelines.patchmatch",
    "harness.pipelines.sd_inpaint",
    "harness.pipelines.sdxl_inpaint",
    "harness.pipelines.sd_inpaint_openpose",
    "harness.pipelines.flux_fill",
    "harness.pipelines.flux_kontext",
    "harness.pipelines.sdedit",
    "harness.pipelines.instruct_pix2pix",
    "harness.pipelines.repaint",
]


def register_pipeline(cls: type[Pipeline]) -> type[Pipeline]:
    if cls.name in PIPELINES:
        raise ValueError(f"pipeline {cls.name!r} registered twice")
    PIPELINES[cls.name] = cls
    return cls


def _ensure_registered() -> None:
    for mod in PIPELINE_MODULES:
        importlib.import_module(mod)


def pipeline_names() -> list[str]:
    _ensure_registered()
    return sorted(PIPELINES)


def get_pipeline_class(name: str) -> type[Pipeline]:
    _ensure_registered()
    if name not in PIPELINES:
        raise EditbenchError(f"unknown pipeline {name!r}; registered pipelines are {sorted(PIPELINES)}.")
    return PIPELINES[name]


def build_pipeline(spec: PipelineSpec) -> Pipeline:
    return get_pipeline_class(spec.name)(spec)
