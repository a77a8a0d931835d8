"""What a run's metric columns mean, read from the run itself.

run.json carries ``metrics: {column: {scorer, direction, role, range, unit, version, primary}}`` for
every float column a report reads: the scorers' ``<scorer>.<metric>`` columns, ``latency_ms`` and the
per-stage ``latency_<stage>_ms`` columns. Reports, history and the gate take directions and roles from
there (the baseline's record for a gate), so an old run is read by the rules it was made under. A run
written before runs carried the record is read with today's scorer registry and a printed warning.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterable

from scorers.base import Metric, registry_metrics

# latency_ms and latency_<stage>_ms: written by the runner for every row (not by a scorer).
LATENCY_COLUMN = Metric("lower", role="latency", range=(0.0, None), unit="ms")
RANKED_ROLES = ("quality", "latency", "cost")

# Primary metric of a suite whose file names none, by the kind of (most of) its tasks. The first column
# of the list that the run has wins; see docs/reports.md.
DEFAULT_PRIMARY: dict[str, tuple[str, ...]] = {
    "toy": ("toy.energy_distance", "toy.wrong_cluster"),
    "inpaint": ("lpips.distance", "fidelity.psnr", "texture.score", "seam.score", "background.mse"),
    "outpaint": ("seam.score", "background.mse", "clip.score"),
    "face_regen": ("identity.cosine", "pose.oks", "seam.score"),
    "sdedit": ("judge.overall", "judge_imgedit.overall", "clip.score", "background.mse"),
    "instruct": ("judge.overall", "judge_imgedit.overall", "clip.score", "background.mse"),
}

_warned: set[str] = set()


def is_stage_column(col: str) -> bool:
    """``latency_ms`` or ``latency_<stage>_ms``."""
    return col.startswith("latency_") and col.endswith("_ms")


def metrics_record(scorers: Iterable[str], stage_columns: Iterable[str] = (), *,
                   primary: str | None = None) -> dict[str, dict]:
    """The run.json ``metrics`` record for a run using ``scorers``, plus the latency columns.

    ``primary``: the column marked ``primary: true`` (at most one); it must be among the columns.
    """
    reg = registry_metrics()
    wanted = set(scorers)
    out = {col: dict(m) for col, m in sorted(reg.items()) if m["scorer"] in wanted}
    for col in ["latency_ms", *sorted(set(stage_columns) - {"latency_ms"})]:
        out[col] = LATENCY_COLUMN.to_json("runner")
    for col, m in out.items():
        m["primary"] = col == primary
    return out


def choose_primary(record: dict[str, dict], kinds: Iterable[str], declared: str | None = None) -> str | None:
    """The primary metric: ``declared`` (a suite's or run spec's ``primary:``), else the default for the
    most common task kind among ``kinds`` that the run's columns provide, else None."""
    if declared:
        return declared
    kinds = list(kinds)
    if not kinds:
        return None
    kind = max(sorted(set(kinds)), key=kinds.count)
    for col in DEFAULT_PRIMARY.get(kind, ()):
        if col in record:
            return col
    return None


def read_run_json(run_dir: str | Path) -> dict:
    """run.json of ``run_dir`` as a dict ({} when there is none)."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def read_metrics(run_dir: str | Path | None = None, meta: dict | None = None,
                 columns: Iterable[str] = ()) -> dict[str, dict]:
    """The ``metrics`` record of a run (``meta`` = its run.json, read from ``run_dir`` when not given).

    A run.json without ``metrics`` is read with today's registry (every registered scorer column, and
    the latency columns among ``columns``), with a warning printed once per run directory.
    """
    if meta is None:
        meta = read_run_json(run_dir) if run_dir is not None else {}
    record = meta.get("metrics")
    if isinstance(record, dict) and record:
        out = {k: dict(v) for k, v in record.items() if isinstance(v, dict)}
        for col in columns:   # stage columns a run recorded before its end (an interrupted run)
            if is_stage_column(col) and col not in out:
                out[col] = {**LATENCY_COLUMN.to_json("runner"), "primary": False}
        return out
    where = str(run_dir) if run_dir is not None else "a run"
    if where not in _warned:
        _warned.add(where)
        print(f"editbench: warning: {where} has no metric metadata in run.json (written by an older editbench); "
              "reading its metrics with the current scorer definitions.", file=sys.stderr)
    stages = [c for c in columns if is_stage_column(c)]
    return metrics_record({m["scorer"] for m in registry_metrics().values()}, stages)


def registry_record() -> dict[str, dict]:
    """Today's definitions of every registered scorer column (no latency stages, no warning): the default
    for code that is handed no run's record."""
    return metrics_record({m["scorer"] for m in registry_metrics().values()})


def sweep_columns(meta: dict, columns: Iterable[str]) -> list[str]:
    """``param.<axis>`` columns of the run's declared sweep axes (run.json ``sweep``) present in ``columns``.

    Only declared axes are sweeps; a run.json without ``sweep`` (older runs) has none.
    """
    cols = set(columns)
    return [f"param.{a}" for a in meta.get("sweep") or [] if f"param.{a}" in cols]


def primary_metric(metrics: dict[str, dict]) -> str | None:
    """The column marked primary in a ``metrics`` record, if any."""
    return next((c for c, m in metrics.items() if m.get("primary")), None)


def direction(metrics: dict[str, dict], col: str) -> str:
    return metrics.get(col, {}).get("direction", "none")


def role(metrics: dict[str, dict], col: str) -> str | None:
    return metrics.get(col, {}).get("role")


def is_latency(metrics: dict[str, dict], col: str) -> bool:
    return role(metrics, col) == "latency"


def is_ranked(metrics: dict[str, dict], col: str) -> bool:
    """Columns that are ranked, plotted and gated: everything but provenance flags."""
    m = metrics.get(col)
    return bool(m) and m.get("role") in RANKED_ROLES and m.get("direction") in ("higher", "lower")
