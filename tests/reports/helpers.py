"""Builders of small synthetic run directories (no Ray) for the report tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from harness.contract.results import ResultRow, read_results, write_shard

PROMPT = "<script>alert('x')</script> a red <b>cat</b> & dog"


def write_meta(out: Path, *, sweep: list[str] | None = None, **suite) -> None:
    """run.json of a synthetic run; like runs written before run.json carried metric metadata, it has no
    ``metrics`` record (reports fall back to today's registry)."""
    out.mkdir(parents=True, exist_ok=True)
    meta = {"run_id": f"run-{out.name}", "suite": {"name": "img", "version": "1", "hash": "abc", **suite},
            "pipelines": [], "seeds": [0, 1], "scorers": ["toy", "latency"], "start_time": "2026-01-01T00:00:00+00:00"}
    if sweep is not None:
        meta["sweep"] = sweep
    (out / "run.json").write_text(json.dumps(meta))


def image_run(tmp: Path) -> Path:
    """A run of a 3-task inpaint suite with PNG outputs: pipeline 'good' (trained) and 'fast' (random weights)."""
    data = tmp / "suite"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(data / "src.png")
    tasks = "\n".join(f"  - {{task_id: t{i}, kind: inpaint, image: src.png, mask: {{box: [8, 8, 40, 30]}}, "
                      f"prompt: {json.dumps(PROMPT)}, params: {{strength: {0.3 + 0.3 * (i % 2)}}}}}" for i in range(3))
    (data / "img.yaml").write_text(f"name: img\nversion: '1'\nsweep: [strength]\ntasks:\n{tasks}\n")
    out = tmp / "run"
    write_meta(out, sweep=["strength"], source=str(data / "img.yaml"))
    recs = []
    for p, weights in (("good", "trained"), ("fast", "random")):
        for i in range(3):
            for seed in (0, 1):
                rel = f"outputs/{p}/t{i}__s{seed}.png"
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(out / rel)
                lat = 1e6 if seed == 0 and i == 0 else 100.0 + 10 * i + seed   # one huge warm-up latency
                recs.append(ResultRow(run_id="run-run", suite="img", task_id=f"t{i}", kind="inpaint", pipeline=p,
                                      seed=seed, weights=weights, output_path=rel, latency_ms=lat,
                                      warmup=(seed == 0 and i == 0), stage_ms={"denoise": lat * 0.9},
                                      params={"strength": 0.3 + 0.3 * (i % 2)},
                                      metrics={"toy.masked_residual": 0.1 * i + 0.01 * seed,
                                               "latency.total_ms": lat}).to_record())
    recs.append(ResultRow(run_id="run-run", suite="img", task_id="t2", kind="inpaint", pipeline="good", seed=2,
                          status="error", error="CUDA <oom> & friends").to_record())
    write_shard(out, recs)
    return out


def clone_run(src: Path, dst: Path, transform=None, meta_update=None) -> Path:
    """Copy run dir ``src`` to ``dst``, its rows passed through ``transform(df) -> df`` into one shard."""
    dst.mkdir(parents=True)
    meta = json.loads((src / "run.json").read_text())
    for k, v in (meta_update or {}).items():
        meta[k] = {**meta.get(k, {}), **v} if isinstance(v, dict) else v
    (dst / "run.json").write_text(json.dumps(meta))
    if (src / "outputs").is_dir():
        shutil.copytree(src / "outputs", dst / "outputs")
    df = read_results(src)
    if transform is not None:
        df = transform(df)
    (dst / "results").mkdir()
    if len(df):
        df.to_parquet(dst / "results" / "part-0.parquet", index=False)
    return dst


def task_mean(df: pd.DataFrame, col: str) -> float:
    """Reference task mean: mean over tasks of the mean over seeds (pandas, independent of reports.stats)."""
    return float(df.groupby("task_id")[col].mean().mean())
