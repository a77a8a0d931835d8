"""Shared by the rescore tests: the judge key variable, a judge config, and a finished run written without Ray."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

KEY_ENV = "EDITBENCH_TEST_RESCORE_KEY"
os.environ.setdefault(KEY_ENV, f"sk-editbench-rescore-{secrets.token_hex(16)}")


def judge_config(path: Path, server, cache: Path, *, model: str = "judge-test-1", scorer: str = "judge") -> Path:
    """A rescore config the operator keeps outside the suite: the endpoint, the key's variable, the model."""
    path.write_text(yaml.safe_dump({scorer: {"base_url": server.base_url, "api_key_env": KEY_ENV, "model": model,
                                             "cache_dir": str(cache), "backoff_s": 0.01}}), encoding="utf-8")
    return path


def files_text(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fake_run(root: Path, *, kind: str = "instruct", instructions=("make it ok warmer", "make it malformed night")) -> Path:
    """A finished run of two 'pipelines' over small copies of two skimage photos, written directly (rows, outputs, run.json):
    ``keep`` returns the source unchanged, ``invert`` its negative."""
    from skimage import data as skdata

    from harness.contract.results import ResultRow, write_shard
    from scorers.columns import choose_primary, metrics_record, primary_metric
    from tasks.schema import load_suite

    root.mkdir(parents=True, exist_ok=True)
    data_root = root.parent / "data"
    data_root.mkdir(exist_ok=True)
    for name, img in (("astronaut.png", skdata.astronaut()), ("coffee.png", skdata.coffee())):   # small copies
        Image.fromarray(np.ascontiguousarray(img[::8, ::8])).save(data_root / name)
    suite_path = root.parent / f"{root.name}-suite.yaml"
    tasks = [{"task_id": f"t{i}", "kind": kind, "image": img, "instruction": ins,
              **({"mask": {"box": [0, 0, 16, 16]}} if kind == "inpaint" else {})}
             for i, (img, ins) in enumerate(zip(("astronaut.png", "coffee.png"), instructions))]
    suite_path.write_text(yaml.safe_dump({"name": "judge-test", "version": "1", "data_root": str(data_root),
                                          "tasks": tasks}), encoding="utf-8")
    suite = load_suite(suite_path)
    run = root
    records = []
    for p in ("keep", "invert"):
        for t in suite.tasks:
            src = np.asarray(Image.open(suite.resolve_path(t.image)).convert("RGB"))
            img = src if p == "keep" else 255 - src
            rel = f"outputs/{p}/{t.task_id}__s0.png"
            (run / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(run / rel)
            records.append(ResultRow(run_id="r1", suite=suite.name, task_id=t.task_id, kind=t.kind, pipeline=p, seed=0,
                                     output_path=rel, latency_ms=5.0, metrics={"latency.total_ms": 5.0}).to_record())
    write_shard(run, records)
    metrics = metrics_record(["latency"], primary=None)
    metrics = metrics_record(["latency"], primary=choose_primary(metrics, [kind]))
    meta = {"run_id": "r1", "suite": {"name": suite.name, "version": suite.version, "hash": suite.content_hash(),
                                      "source": str(suite_path), "n_tasks": len(suite.tasks)},
            "pipelines": [{"name": "instruct-pix2pix", "label": "keep"}, {"name": "instruct-pix2pix", "label": "invert"}],
            "seeds": [0], "scorers": ["latency"], "metrics": metrics, "primary": primary_metric(metrics),
            "status": "complete", "attempts": [{"started": "x"}],
            "jobs": {"planned": [[t.task_id, p, 0] for p in ("keep", "invert") for t in suite.tasks]}}
    (run / "run.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return run
