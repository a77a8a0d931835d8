"""MLflow: one MLflow run per editbench run, for teams that read their models' numbers there.

Logged: params (suite name, version and hash, each pipeline's name, options and weights, seeds), metrics
per pipeline (``<pipeline>/<metric>`` mean and CI bounds for every ranked metric, ``<pipeline>/latency_p50_ms``
and ``p90``, error and timeout counts), tags (run_id, git sha, status, the gate's verdict when given) and
artefacts (leaderboard.html, leaderboard.md, results.json, gate.json when present). The tracking URI is
the one given, else ``MLFLOW_TRACKING_URI``: a tracking server (``http://...``), a database, or a folder
(``file:///...``; MLflow keeps its folder store in maintenance mode behind ``MLFLOW_ALLOW_FILE_STORE``, which
is set for a ``file:`` URI unless the operator set it). A logging failure never fails the caller: it is one line on
stderr and :func:`log_run` returns None.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path

from harness.core.errors import EditbenchError
from reports.leaderboard import build_report
from reports.rows import is_latency_metric

ARTEFACTS = ("leaderboard.html", "leaderboard.md", "results.json", "gate.json")
_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


def _key(text: str) -> str:
    """An MLflow metric/param key (letters, digits, ``_ - . /`` and spaces)."""
    return _KEY.sub("_", text)[:250]


def run_params(meta: dict) -> dict[str, str]:
    suite = meta.get("suite") or {}
    params = {"suite": str(suite.get("name")), "suite_version": str(suite.get("version")),
              "suite_hash": str(suite.get("hash")), "seeds": json.dumps(meta.get("seeds")),
              "scorers": json.dumps(meta.get("scorers"))}
    for p in meta.get("pipelines") or []:
        label = _key(str(p.get("label") or p.get("name")))
        params[f"{label}.name"] = str(p.get("name"))
        params[f"{label}.options"] = json.dumps(p.get("options"), sort_keys=True, default=str)[:6000]
        params[f"{label}.weights"] = str(p.get("weights_path") or p.get("weights"))
    return params


def run_metrics(run_dir: Path) -> dict[str, float]:
    """``<pipeline>/<metric>`` (+ ``_lo``/``_hi``), latency p50/p90 and counts, finite values only."""
    r = build_report(run_dir)
    out: dict[str, float] = {}
    for e in r.overall:
        p = _key(e.pipeline)
        for m, est in e.metrics.items():
            if e.random_only and not is_latency_metric(m, r.metrics):
                continue
            for suffix, v in (("", est.mean), ("_lo", est.lo), ("_hi", est.hi)):
                if v is not None and math.isfinite(v):
                    out[f"{p}/{_key(m)}{suffix}"] = float(v)
        p50, p90 = e.latency.get("latency_ms", (math.nan, math.nan))
        for name, v in (("latency_p50_ms", p50), ("latency_p90_ms", p90)):
            if math.isfinite(v):
                out[f"{p}/{name}"] = float(v)
        out[f"{p}/errors"] = float(e.counts.get("error", 0))
        out[f"{p}/timeouts"] = float(e.counts.get("timeout", 0))
    return out


def log_run(run_dir: str | Path, *, tracking_uri: str | None = None, experiment: str | None = None,
            verdict: str | None = None) -> str | None:
    """Log ``run_dir`` as one MLflow run; returns its MLflow run id (None when logging failed)."""
    run_dir = Path(run_dir)
    try:
        import mlflow

        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            raise EditbenchError("no tracking URI (give --mlflow URI or set MLFLOW_TRACKING_URI)")
        if uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")   # MLflow's own switch for its folder store
        mlflow.set_tracking_uri(uri)
        name = experiment or f"editbench/{(meta.get('suite') or {}).get('name')}"
        mlflow.set_experiment(name)
        tags = {"editbench.run_id": str(meta.get("run_id")), "editbench.git_sha": str(meta.get("git_sha")),
                "editbench.status": str(meta.get("status")), "editbench.run_dir": str(run_dir.resolve())}
        if verdict is not None:
            tags["editbench.gate"] = verdict
        with mlflow.start_run(run_name=str(meta.get("run_id"))) as active:
            mlflow.log_params(run_params(meta))
            mlflow.log_metrics(run_metrics(run_dir))
            mlflow.set_tags(tags)
            for f in ARTEFACTS:
                if (run_dir / f).is_file():
                    mlflow.log_artifact(str(run_dir / f))
            return active.info.run_id
    except Exception as e:  # noqa: BLE001 - tracking is best effort: the run and its reports stand
        print(f"editbench: warning: MLflow logging of {run_dir} failed ({type(e).__name__}: "
              f"{' '.join(str(e).split())[:300]}); the run itself is unaffected.", file=sys.stderr)
        return None
