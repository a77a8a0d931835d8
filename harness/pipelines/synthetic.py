"""``synthetic``: a pipeline with a fixed, known cost and injectable faults.

It produces a small deterministic RGB image from (task_id, seed) after spending ``cost_ms`` of CPU
time (a busy loop counting thread CPU time, so it is a fixed amount of work) and/or ``sleep_ms`` of idle time. It exists for the
overhead and scaling benchmarks (bench/overhead.py, bench/scaling.py) and for the fault-tolerance
tests, which make it raise, hang, kill its own process or return NaN on chosen task ids.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.pipelines.base import Output, Pipeline
from tasks.schema import Task


def busy_wait_ms(ms: float) -> None:
    """Spin until this thread has used ``ms`` milliseconds of CPU time: a fixed amount of work, so two
    copies sharing one core take twice as long (unlike a wall-clock spin)."""
    end = time.thread_time() + ms / 1e3
    x = 0
    while time.thread_time() < end:
        x += 1


class Synthetic(Pipeline):
    name = "synthetic"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen", "toy"})

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

        cost_ms: float = 0.0                 # CPU time spent per run (busy loop)
        sleep_ms: float = 0.0                # idle time per run
        size: int = 32                       # output image side in pixels
        load_ms: float = 0.0                 # time spent in load()
        fail_on: list[str] = Field(default_factory=list)          # task ids whose run raises
        sleep_on: dict[str, float] = Field(default_factory=dict)  # task id -> extra seconds asleep
        die_on: list[str] = Field(default_factory=list)           # task ids whose run kills the process
        die_once_dir: str | None = None      # with die_on: die only on the first attempt (marker files here,
                                             # a folder inside the system's temporary directory only)
        nan_on: list[str] = Field(default_factory=list)           # task ids whose output holds NaN

        @field_validator("die_once_dir")
        @classmethod
        def _in_temp(cls, v):
            """A test pipeline in the production registry writes nowhere but the temporary directory."""
            if v is None:
                return v
            tmp = Path(tempfile.gettempdir()).resolve()
            if "\x00" in v or not Path(v).is_absolute() or not Path(v).resolve().is_relative_to(tmp) \
                    or Path(v).resolve() == tmp:
                raise ValueError(f"die_once_dir must be a folder inside {tmp} (it is for fault-injection tests)")
            return v

    def load(self) -> None:
        busy_wait_ms(self.options.load_ms)

    def execute(self, task: Task, seed: int) -> Output:
        o, tid = self.options, task.task_id
        t0 = time.perf_counter()
        if tid in o.die_on:
            marker = Path(o.die_once_dir) / f"died-{tid}-{seed}" if o.die_once_dir else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.parent.mkdir(parents=True, exist_ok=True)
                    marker.write_text("")
                os._exit(17)
        if tid in o.fail_on:
            raise RuntimeError(f"synthetic failure injected on task {tid}")
        time.sleep(o.sleep_ms / 1e3 + o.sleep_on.get(tid, 0.0))
        busy_wait_ms(o.cost_ms)
        digest = hashlib.sha256(f"{tid}/{seed}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        ms = (time.perf_counter() - t0) * 1e3
        if tid in o.nan_on:
            return Output(array=np.full((o.size, o.size, 3), np.nan, dtype=np.float32),
                          latencies_ms={"denoise": ms}, latency_ms=ms, weights="random")
        image = rng.integers(0, 256, (o.size, o.size, 3), dtype=np.uint8)
        return Output(image=image, latencies_ms={"denoise": ms}, latency_ms=ms, weights="random")
