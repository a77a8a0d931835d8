"""results.json: the machine-readable summary of a run, written with every report.

In the spirit of lm-evaluation-harness's results file: per pipeline and metric the task mean with its
t interval (:mod:`reports.stats`), the numbers of tasks and rows behind it, and the metric's meaning
(direction, role, unit, version, primary) from the run's own run.json ``metrics`` record; per
pipeline the ok/error/timeout counts; and the run's provenance (run id, suite name/version/hash,
git sha, packages, hardware, times, status, spec). Strict JSON: a value that cannot be computed is null.

Rows used: ok rows; latency columns without warm-up rows; quality and cost columns of real or
trained weights only (random-weights pipelines are reported on latency alone, as on the leaderboard).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from harness.contract.results import load_run
from harness.core.storage import atomic_write_text
from reports.arena_report import json_section, people_summary
from reports.rows import not_warmup, within_range
from reports.stats import task_mean_ci_rows
from scorers.columns import is_ranked, read_metrics

CONFIDENCE = 0.95
PROVENANCE_KEYS = ("run_id", "git_sha", "packages", "hardware", "start_time", "end_time", "status", "seeds",
                   "scorers", "spec")
SCHEMA_VERSION = 1


def _rows(df: pd.DataFrame, col: str, role: str | None) -> pd.DataFrame:
    ok = df[df["status"] == "ok"]
    if role == "latency":
        return ok[not_warmup(ok)]
    return ok[ok["weights"] != "random"] if "weights" in ok.columns else ok


def _num(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def results_summary(meta: dict, df: pd.DataFrame, *, run_dir: str | Path | None = None,
                    confidence: float = CONFIDENCE) -> dict:
    """The results.json document of a run (``meta``: its run.json; ``df``: its result rows)."""
    record = read_metrics(run_dir, meta, columns=list(df.columns))
    cols = [c for c in record if is_ranked(record, c) and c in df.columns]
    suite = meta.get("suite") or {}
    doc = {
        "schema_version": SCHEMA_VERSION,
        "suite": {k: suite.get(k) for k in ("name", "version", "hash", "n_tasks")},
        "provenance": {k: meta.get(k) for k in PROVENANCE_KEYS},
        "confidence": confidence,
        "interval": "Student t over task means (seeds averaged within each task)",
        "n_rows": int(len(df)),
        "n_tasks": int(df["task_id"].nunique()) if len(df) else 0,
        "counts": {s: int((df["status"] == s).sum()) if len(df) else 0 for s in ("ok", "error", "timeout")},
        "results": {},
    }
    if df.empty:
        return doc
    for pipeline, g in df.groupby("pipeline", sort=True):
        entry = {"counts": {s: int((g["status"] == s).sum()) for s in ("ok", "error", "timeout")},
                 "weights": sorted(str(w) for w in g.loc[g["status"] == "ok", "weights"].dropna().unique())
                 if "weights" in g.columns else [],
                 "metrics": {}}
        for c in cols:
            m = record[c]
            rows = _rows(g, c, m.get("role"))
            vals = rows[c].to_numpy(dtype=np.float64)
            keep = np.isfinite(vals)
            est = (within_range(task_mean_ci_rows(rows["task_id"].to_numpy(), vals, confidence=confidence), m.get("range"))
                   if keep.any() else None)
            entry["metrics"][c] = {
                "mean": _num(est.mean) if est else None,
                "ci": [_num(est.lo), _num(est.hi)] if est else [None, None],
                "n_tasks": est.n_tasks if est else 0,
                "n_rows": est.n_rows if est else 0,
                "n_infinite": int(np.isinf(vals).sum()),
                **{k: m.get(k) for k in ("direction", "role", "unit", "version", "primary", "scorer")},
            }
        doc["results"][str(pipeline)] = entry
    people = people_summary(run_dir, df, record) if run_dir is not None else None
    if people is not None:
        doc["people"] = json_section(people)
    return doc


def _strict(o):
    """NaN/inf -> None (results.json is strict JSON)."""
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def write_results_json(out: str | Path, *, meta: dict | None = None, df: pd.DataFrame | None = None,
                       ranking: dict | None = None) -> Path:
    """Write ``<out>/results.json`` (atomically: temp file then rename); returns its path. ``ranking``:
    :func:`reports.ranking.to_json` of the run's one ranking (the leaderboard passes it)."""
    out = Path(out)
    if meta is None or df is None:
        meta, df = load_run(out, allow_empty=True)
    doc = results_summary(meta, df, run_dir=out)
    if ranking is not None:
        doc["ranking"] = _strict(ranking)
    path = out / "results.json"
    return atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False, default=str), root=out)
