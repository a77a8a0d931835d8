"""Toy 5-D DDPM pipelines: ``toy-naive``, ``toy-repaint`` and ``toy-unconditional``.

They share one trained model (cached by config hash) and differ only in the sampling strategy from
:mod:`harness.toy.inpaint`. Output.array holds the (n, 5) samples; known dims equal the source.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from harness.pipelines.base import Output, Pipeline
from tasks.schema import Task


class ToyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # What a toy task is (usually set per task, see harness.toy.task): its mask and source samples.
    mask_fraction: float | None = Field(None, gt=0.0, lt=1.0)   # share of the 5 dims regenerated (from the end)
    n_samples: int = Field(1000, ge=1)                            # source samples per task
    data_seed: int = 0                                            # seed of the source samples

    model_seed: int = 0          # training seed of the noise predictor
    train_steps: int = 3000      # training length (part of the cache key)
    steps: int | None = None     # sampling steps; None = all T, fewer = respaced schedule (Improved DDPM)
    threads: int = 1             # torch intra-op threads in the actor (1 keeps results bit-exact across machines)


class ToyPipeline(Pipeline):
    kinds = frozenset({"toy"})
    task_options = frozenset({"mask_fraction", "n_samples", "data_seed"})
    Options = ToyOptions

    def load(self) -> None:
        import torch

        from harness.toy.ddpm import Schedule, ToyConfig, load_or_train

        torch.set_num_threads(self.options.threads)
        self.config = ToyConfig(seed=self.options.model_seed, train_steps=self.options.train_steps)
        self.model = load_or_train(self.config)
        sched = Schedule.linear(self.config)
        self.schedule = sched.respaced(self.options.steps) if self.options.steps else sched

    def resolved(self) -> dict[str, str]:
        return {"device": "cpu", "dtype": "float32"}

    def sample(self, src, generator):  # pragma: no cover - overridden
        raise NotImplementedError

    def execute(self, task: Task, seed: int) -> Output:
        import torch

        from harness.toy.task import toy_source

        o = self.options
        if o.mask_fraction is None:
            raise ValueError(f"toy task {task.task_id} sets no mask_fraction")
        src = toy_source({"mask_fraction": o.mask_fraction, "n_samples": o.n_samples, "data_seed": o.data_seed})
        g = torch.Generator().manual_seed(seed)
        t0 = time.perf_counter()
        x = self.sample(src, g)
        ms = (time.perf_counter() - t0) * 1e3
        return Output(array=x.numpy(), latencies_ms={"denoise": ms}, latency_ms=ms, weights="trained")


class ToyNaive(ToyPipeline):
    """Replacement of the known dims by their forward-noised values at every reverse step."""

    name = "toy-naive"

    def sample(self, src, generator):
        from harness.toy.inpaint import inpaint_naive

        return inpaint_naive(self.model, src.x0, src.mask, self.schedule, generator)


class ToyRepaint(ToyPipeline):
    """Replacement plus RePaint resampling (jump back ``jump_length`` states, ``resample`` times)."""

    name = "toy-repaint"
    task_options = ToyPipeline.task_options | {"jump_length", "resample"}

    class Options(ToyOptions):
        jump_length: int = 10   # states per jump back
        resample: int = 1       # extra passes over each jump segment (RePaint's jump_n_sample - 1)

    def sample(self, src, generator):
        from harness.toy.inpaint import inpaint_repaint

        o = self.options
        return inpaint_repaint(self.model, src.x0, src.mask, self.schedule, generator,
                               jump_length=o.jump_length, resample=o.resample)


class ToyUnconditional(ToyPipeline):
    """Regenerates every dim, ignoring the source: the reference inpainting should beat."""

    name = "toy-unconditional"

    def sample(self, src, generator):
        from harness.toy.inpaint import sample_unconditional

        n, dim = src.x0.shape
        return sample_unconditional(self.model, n, dim, self.schedule, generator)
