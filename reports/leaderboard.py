"""Leaderboard tables from a run directory's result rows.

The table has one row per pipeline (and per value of the suite's sweep parameter, e.g.
``param.mask_fraction``), one column per metric with its direction (↑ higher is better, ↓ lower is
better), mean over tasks and seeds of the ok rows. Latency is the median over non-warm-up rows.
Quality metrics of ``weights=random`` rows are never ranked: they are shown as blank.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from reports.results import read_results
from scorers.base import metric_directions

SWEEP_PARAMS = ("param.mask_fraction", "param.strength", "param.guidance", "param.dilation")
ARROW = {"higher": "↑", "lower": "↓"}


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Metric columns present in ``df`` (``<scorer>.<metric>``, known to the scorer registry)."""
    known = metric_directions()
    return [c for c in df.columns if c in known and c != "latency.total_ms"]


def leaderboard(df: pd.DataFrame, *, by: list[str] | None = None) -> pd.DataFrame:
    """Mean of every metric per pipeline (x sweep parameter), plus row counts and median latency."""
    if by is None:
        by = [c for c in SWEEP_PARAMS if c in df.columns and df[c].notna().any()][:1]
    keys = ["pipeline", *by]
    metrics = metric_columns(df)
    ok = df[df["status"] == "ok"]
    quality = ok[ok["weights"] != "random"]
    table = quality.groupby(keys, dropna=False)[metrics].mean() if metrics else pd.DataFrame()
    counts = df.groupby(keys, dropna=False)["status"].value_counts().unstack(fill_value=0)
    for s in ("ok", "error", "timeout"):
        if s not in counts:
            counts[s] = 0
    timed = ok[~ok["warmup"].astype(bool)] if "warmup" in ok else ok
    latency = timed.groupby(keys, dropna=False)["latency_ms"].median().rename("latency_ms (median)")
    out = counts[["ok", "error", "timeout"]]
    if metrics:
        out = out.join(table, how="left")
    out = out.join(latency, how="left")
    return out.reset_index()


def format_markdown(table: pd.DataFrame) -> str:
    directions = metric_directions()
    headers = [f"{c} {ARROW[directions[c]]}" if c in directions else c for c in table.columns]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for _, row in table.iterrows():
        cells = []
        for v in row:
            if isinstance(v, (float, np.floating)):
                cells.append("" if np.isnan(v) else f"{v:.4g}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(out: str | Path) -> str:
    """Build the leaderboard of run directory ``out``, write leaderboard.md and return its text."""
    from harness.errors import EditbenchError

    out = Path(out)
    meta_path = out / "run.json"
    if not meta_path.is_file():
        raise EditbenchError(f"{out} is not an editbench run directory: {meta_path} is missing.")
    meta = json.loads(meta_path.read_text())
    df = read_results(out)
    if df.empty:
        raise EditbenchError(f"run directory {out} holds no result rows in {out / 'results'}.")
    suite = meta.get("suite", {})
    text = "\n".join([
        f"# Leaderboard: {suite.get('name')} v{suite.get('version')}",
        "",
        f"run `{meta.get('run_id')}` · suite hash `{str(suite.get('hash'))[:12]}` · git `{meta.get('git_sha')}` · "
        f"{len(df)} rows · seeds {meta.get('seeds')}",
        "",
        "Metrics: mean over tasks and seeds of ok rows (↑ higher is better, ↓ lower is better); "
        "latency: median over non-warm-up rows.",
        "",
        format_markdown(leaderboard(df)),
        "",
    ])
    (out / "leaderboard.md").write_text(text)
    return text
