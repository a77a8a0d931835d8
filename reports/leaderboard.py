"""Leaderboard tables from a run directory's result rows.

One row per pipeline (and, in a sweep table, per value of each sweep axis the run declares in run.json
``sweep``, e.g. ``param.mask_dilate``); one column per metric with its direction (↑ higher is better,
↓ lower is better) holding the task mean and its 95 % nested-bootstrap CI (:mod:`reports.stats`), then
the ok/error/timeout counts and per-stage latency (median and p90 over non-warm-up ok rows).

What each column means comes from the run's own run.json ``metrics`` record (:mod:`scorers.columns`):
provenance columns are never ranked; latency-role metrics leave warm-up rows out and are shown for
random weights too; quality metrics of ``weights=random`` rows are never ranked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.contract.results import coverage_notes, load_run
from reports.arena_report import People, markdown_section, people_summary
from reports.format import fmt, fmt_ms, fmt_with_infinite
from reports.judge_notes import judge_markdown
from reports.markdown import format_markdown, md
from reports.rows import is_latency_metric, metric_columns, metric_rows, not_warmup, stage_columns, stage_label, within_range
from reports.stats import NAN_ESTIMATE, Estimate, quantiles, task_mean_ci_rows
from scorers.columns import direction, read_metrics, registry_record, role, sweep_columns

ARROW = {"higher": "↑", "lower": "↓", "none": ""}


@dataclass
class Entry:
    """One leaderboard row."""

    pipeline: str
    key: dict = field(default_factory=dict)            # sweep column -> value ({} for the overall table)
    counts: dict = field(default_factory=dict)         # ok / error / timeout
    weights: str = ""                                   # weight sources of the rows, e.g. "trained"
    metrics: dict[str, Estimate] = field(default_factory=dict)
    latency: dict[str, tuple[float, float]] = field(default_factory=dict)   # stage column -> (p50, p90)
    infinite: dict[str, int] = field(default_factory=dict)   # metric -> rows whose value is +inf (e.g. PSNR of identical pixels)
    totals: dict[str, float] = field(default_factory=dict)   # cost-role metric -> sum over its ok rows (the bill)

    @property
    def random_only(self) -> bool:
        return self.weights == "random"


def entries(df: pd.DataFrame, *, by: list[str] | None = None, confidence: float = 0.95,
            record: dict[str, dict] | None = None) -> list[Entry]:
    """Leaderboard rows per pipeline (x ``by`` columns); ``record``: the run's metrics record."""
    by = list(by or [])
    metrics = metric_columns(df, record)
    stages = stage_columns(df)
    out = []
    for key, g in df.groupby(["pipeline", *by], sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        counts = g["status"].value_counts()
        ok = g[g["status"] == "ok"]
        weights = ",".join(sorted(ok["weights"].dropna().unique())) if len(ok) else ""
        e = Entry(pipeline=str(key[0]), key=dict(zip(by, key[1:])),
                  counts={s: int(counts.get(s, 0)) for s in ("ok", "error", "timeout")}, weights=weights)
        for m in metrics:
            rows = metric_rows(g, m, record)
            rows = rows[rows[m].notna()]
            e.infinite[m] = int(np.isposinf(rows[m].to_numpy(dtype=np.float64)).sum())
            if role(record or registry_record(), m) == "cost":
                e.totals[m] = float(rows[m].sum()) if len(rows) else math.nan
            est = (task_mean_ci_rows(rows["task_id"].to_numpy(), rows[m].to_numpy(dtype=np.float64),
                                     confidence=confidence) if len(rows) else NAN_ESTIMATE)
            e.metrics[m] = within_range(est, (record or registry_record()).get(m, {}).get("range"))
        timed = ok[not_warmup(ok)]
        for s in stages:
            e.latency[s] = quantiles(timed[s].to_numpy(dtype=np.float64)) if s in timed else (math.nan, math.nan)
        out.append(e)
    return out


def headers(df: pd.DataFrame, by: list[str], record: dict[str, dict] | None = None) -> tuple[list[str], list[str]]:
    """(metric columns, stage columns) shown in the table."""
    return metric_columns(df, record), stage_columns(df)


def metric_header(m: str, record: dict[str, dict] | None) -> str:
    """``name ↑`` (``name ↑ primary`` for the run's primary metric)."""
    rec = registry_record() if record is None else record
    return f"{m} {ARROW[direction(rec, m)]}" + (" primary" if rec.get(m, {}).get("primary") else "")


def table_rows(df: pd.DataFrame, ents: list[Entry], by: list[str],
               record: dict[str, dict] | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and cell text of a leaderboard table (plain text, unescaped)."""
    metrics, stages = headers(df, by, record)
    head = ["pipeline", *[b.removeprefix("param.") for b in by],
            *[metric_header(m, record) for m in metrics],
            "ok", "error", "timeout",
            *[f"{stage_label(s)} p50 / p90" for s in stages]]
    rows = []
    for e in ents:
        cells = [e.pipeline, *[str(e.key[b]) for b in by]]
        for m in metrics:
            if e.random_only and not is_latency_metric(m, record):
                cells.append("n/a (random weights)")
            else:
                cells.append(fmt_with_infinite(e.metrics.get(m, NAN_ESTIMATE), e.infinite.get(m, 0))
                             + (f" · total {fmt(e.totals[m])}" if np.isfinite(e.totals.get(m, math.nan)) else ""))
        cells += [str(e.counts[s]) for s in ("ok", "error", "timeout")]
        cells += [f"{fmt_ms(p50)} / {fmt_ms(p90)}" if np.isfinite(p50) else "—" for p50, p90 in (e.latency[s] for s in stages)]
        rows.append(cells)
    return head, rows


def leaderboard(df: pd.DataFrame, *, by: list[str] | None = None,
                record: dict[str, dict] | None = None) -> pd.DataFrame:
    """The leaderboard as a DataFrame: counts, ``<metric>`` task means with ``<metric> lo``/``hi`` CI
    columns, and ``<stage> p50``/``p90`` per latency column, per pipeline (x ``by`` columns)."""
    records = []
    for e in entries(df, by=list(by or []), record=record):
        rec = {"pipeline": e.pipeline, **e.key, **e.counts, "weights": e.weights}
        for m, est in e.metrics.items():
            hide = e.random_only and not is_latency_metric(m, record)
            rec[m], rec[f"{m} lo"], rec[f"{m} hi"] = (math.nan,) * 3 if hide else (est.mean, est.lo, est.hi)
            if m in e.totals:
                rec[f"{m} total"] = e.totals[m]
        for s, (p50, p90) in e.latency.items():
            rec[f"{s} p50"], rec[f"{s} p90"] = p50, p90
        records.append(rec)
    return pd.DataFrame.from_records(records)


@dataclass
class Report:
    """Everything a leaderboard page shows; built once, rendered to Markdown and HTML."""

    out: Path
    meta: dict
    df: pd.DataFrame
    overall: list[Entry]
    sweeps: dict[str, list[Entry]]            # param.<axis> -> entries, for the run's declared sweep axes
    metrics: dict[str, dict] = field(default_factory=dict)   # the run's metrics record (run.json)
    people: People | None = None              # the people's votes section, when the run has votes

    @property
    def title(self) -> str:
        s = self.meta.get("suite", {})
        return f"Leaderboard: {s.get('name')} v{s.get('version')}"

    def subtitle(self) -> str:
        s = self.meta.get("suite", {})
        return (f"run {self.meta.get('run_id')} · suite hash {str(s.get('hash'))[:12]} · "
                f"git {str(self.meta.get('git_sha'))[:12]} · "
                f"{len(self.df)} rows · {self.df['task_id'].nunique()} tasks · seeds {self.meta.get('seeds')}")


NOTE = ("Metrics: task mean (mean over tasks of the mean over seeds) of ok rows, with its 95 % bootstrap CI "
        "[lo, hi] (tasks resampled, seeds resampled within tasks; fixed RNG seed). ↑ higher is better, "
        "↓ lower is better. Pipelines with weights=random show latency only. Latency: median / p90 in ms over "
        "non-warm-up ok rows. Cost: mean per row, then the total over the ok rows.")


def sweep_entries(df: pd.DataFrame, meta: dict, record: dict[str, dict]) -> dict[str, list[Entry]]:
    """Entries per declared sweep axis. An axis swept by a run spec's ``grid:`` groups each grid variant
    (``cv2-telea[mask_dilate=8]``) under the pipeline it came from, so its values form one curve."""
    configs = meta.get("pipelines") or []
    base = {c.get("label"): c["grid_of"] for c in configs if c.get("grid_of")}
    grid = {k for c in configs for k in c.get("grid_point") or {}}
    out = {}
    for col in sweep_columns(meta, df.columns):
        d = df.assign(pipeline=df["pipeline"].map(lambda p: base.get(p, p))) if col[6:] in grid else df
        out[col] = entries(d, by=[col], record=record)
    return out


def build_report(out: str | Path) -> Report:
    out = Path(out)
    meta, df = load_run(out)
    record = read_metrics(out, meta, df.columns)
    overall = entries(df, record=record)
    return Report(out=out, meta=meta, df=df, overall=overall, sweeps=sweep_entries(df, meta, record), metrics=record,
                  people=people_summary(out, df, record))


def render_markdown(r: Report) -> str:
    parts = [f"# {md(r.title)}", "", md(r.subtitle()), "", NOTE, "",
             *[f"> warning: {md(n)}.\n" for n in coverage_notes(r.meta, r.df)], "## All tasks", "",
             format_markdown(*table_rows(r.df, r.overall, [], r.metrics))]
    for p, ents in r.sweeps.items():
        parts += ["", f"## By {p.removeprefix('param.')}", "", format_markdown(*table_rows(r.df, ents, [p], r.metrics))]
    parts += judge_markdown(r.df)        # judge verdicts per pipeline and the NaN ones by reason
    if r.people is not None:
        parts.append(markdown_section(r.people))
    return "\n".join(parts) + "\n"


