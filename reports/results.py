"""Result rows and their Parquet shards (the output-directory contract in docs/reports.md).

One row per (task_id, pipeline, seed). Shards are written atomically (temp file, then rename) into
``<out>/results/``, so a crash never leaves a half-written shard that readers would pick up.
"""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

STATUSES = ("ok", "error", "timeout")
WEIGHTS = ("real", "random", "trained")
KEY = ("task_id", "pipeline", "seed")
REQUIRED_COLUMNS = (
    "run_id", "suite", "task_id", "kind", "pipeline", "seed",
    "status", "error", "weights", "output_path", "latency_ms",
)


@dataclass
class ResultRow:
    """One (task, pipeline, seed) result. ``to_record`` flattens it to Parquet columns:
    ``latency_<stage>_ms``, ``param.<name>`` and ``<scorer>.<metric>``."""

    run_id: str
    suite: str
    task_id: str
    kind: str
    pipeline: str
    seed: int
    status: str = "ok"
    error: str | None = None
    weights: str = "real"
    output_path: str | None = None
    latency_ms: float = math.nan
    warmup: bool = False                     # first run after load: excluded from latency statistics
    attempt: int = 1                         # 1 + retries after an actor died
    score_error: str | None = None           # scorers that failed on an ok row (their metrics are NaN)
    node: str | None = None                  # Ray node id (first 12 hex digits) of the actor that ran it
    gpu: str | None = None                   # GPU ids Ray assigned to that actor ("" on CPU actors)
    device: str | None = None                # device the pipeline resolved "auto" to (e.g. "cuda", "cpu")
    dtype: str | None = None                 # compute dtype it resolved to (e.g. "float16"); None when n/a
    stage_ms: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)   # "<scorer>.<metric>" -> value
    # Adapter-specific columns (Output.extras), e.g. a hosted adapter's http_attempts, http_status,
    # request_id and cost_usd; scalars only.
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, got {self.weights!r}")
        if self.status == "ok" and self.error is not None:
            raise ValueError("an ok row carries no error message")

    def to_record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {c: getattr(self, c) for c in REQUIRED_COLUMNS}
        rec["warmup"] = self.warmup
        rec["attempt"] = self.attempt
        rec["score_error"] = self.score_error
        rec["node"] = self.node
        rec["gpu"] = self.gpu
        rec["device"] = self.device
        rec["dtype"] = self.dtype
        rec.update({f"latency_{k}_ms": float(v) for k, v in self.stage_ms.items()})
        rec.update({f"param.{k}": v for k, v in self.params.items() if isinstance(v, (int, float, str, bool))})
        rec.update({k: float(v) for k, v in self.metrics.items()})
        rec.update({k: v for k, v in self.extras.items() if v is None or isinstance(v, (int, float, str, bool))})
        return rec


def results_dir(out: str | Path) -> Path:
    return Path(out) / "results"


def write_shard(out: str | Path, records: Iterable[dict[str, Any]], *, prefix: str = "part") -> Path | None:
    """Write records as one Parquet shard, atomically. Returns its path (None when there is nothing)."""
    records = list(records)
    if not records:
        return None
    d = results_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    name = f"{prefix}-{uuid.uuid4().hex[:12]}.parquet"
    tmp = d / f".{name}.tmp"
    pd.DataFrame.from_records(records).to_parquet(tmp, index=False)
    os.replace(tmp, d / name)
    return d / name


def read_results(out: str | Path) -> pd.DataFrame:
    """All result rows of a run directory (empty DataFrame with the required columns when none)."""
    files = sorted(results_dir(out).glob("*.parquet"))
    if not files:
        return pd.DataFrame(columns=list(REQUIRED_COLUMNS))
    frames = [pd.read_parquet(f) for f in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(REQUIRED_COLUMNS))
    return pd.concat(frames, ignore_index=True, sort=False)


def done_keys(out: str | Path) -> set[tuple[str, str, int]]:
    """(task_id, pipeline, seed) of every row already on disk."""
    df = read_results(out)
    return {(str(t), str(p), int(s)) for t, p, s in zip(df["task_id"], df["pipeline"], df["seed"])}


def load_run(out: str | Path, *, allow_empty: bool = False) -> tuple[dict, pd.DataFrame]:
    """run.json and all result rows of run directory ``out``; raises EditbenchError naming what is missing."""
    import json

    from harness.errors import EditbenchError

    out = Path(out)
    meta_path = out / "run.json"
    if not out.is_dir():
        raise EditbenchError(f"run directory {out} does not exist.")
    if not meta_path.is_file():
        raise EditbenchError(f"{out} is not an editbench run directory: {meta_path} is missing.")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise EditbenchError(f"{meta_path} is not valid JSON ({e.msg} at line {e.lineno}).") from None
    df = read_results(out)
    if df.empty and not allow_empty:
        raise EditbenchError(f"run directory {out} holds no result rows in {results_dir(out)}.")
    return meta, df
