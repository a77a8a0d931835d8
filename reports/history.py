"""Run history: the trend of every metric per pipeline across many run directories (nightly runs).

``RUNS_ROOT`` holds run directories (any depth; each has run.json and results/). Every run's shards
are opened as one ``pyarrow.dataset`` over a schema unified from the shards' footers, and only the
columns the trend needs are read (no output images, no unused metrics), so a root with hundreds of
runs is read in one pass over the column chunks it needs. Runs are ordered by run.json
``start_time``; each point is the task mean with its 95 % nested-bootstrap CI (:mod:`reports.stats`).
Runs of different suites are reported in separate tables. Each run's metrics are read with that run's
own run.json ``metrics`` record (directions, roles); a trend shows the direction of its latest run.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from harness.contract.results import fallback_files, read_shard
from harness.core.errors import EditbenchError
from harness.core.storage import atomic_write_text
from reports import plots
from reports.format import fmt
from reports.html import CSS, table_html
from reports.markdown import format_markdown, md
from reports.rows import metric_rows, within_range
from reports.stats import task_mean_ci_rows
from reports.views import img
from scorers.columns import direction, is_ranked, is_stage_column, read_metrics, registry_record

BASE_COLUMNS = ("task_id", "pipeline", "seed", "status", "weights", "warmup")


@dataclass
class RunInfo:
    path: Path
    run_id: str
    suite: str
    start_time: str
    metrics: dict = field(default_factory=dict)   # the run's metrics record (run.json)


def find_runs(root: str | Path) -> list[RunInfo]:
    """Run directories under ``root`` (those holding run.json and results/), oldest first."""
    root = Path(root)
    if not root.is_dir():
        raise EditbenchError(f"runs root {root} is not a directory.")
    runs = []
    for meta_path in sorted(root.rglob("run.json")):
        d = meta_path.parent
        if not (d / "results").is_dir():
            continue
        try:
            meta = json.loads(meta_path.read_bytes().decode("utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except (ValueError, OSError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            _skip(d, f"{meta_path} cannot be read ({type(e).__name__})")
            continue
        runs.append(RunInfo(d, str(meta.get("run_id", d.name)), str((meta.get("suite") or {}).get("name")),
                            str(meta.get("start_time", "")), read_metrics(d, meta)))
    if not runs:
        raise EditbenchError(f"runs root {root} holds no run directory (a folder with run.json and results/).")
    return sorted(runs, key=lambda r: (r.start_time, r.run_id))


def read_history(runs: list[RunInfo]) -> pd.DataFrame:
    """Rows of all ``runs`` with the columns a trend needs, plus ``run_id``/``start_time``/``run_suite``."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    known = {c for r in runs for c in r.metrics if is_ranked(r.metrics, c) and not is_stage_column(c)}
    files, owner, schemas = [], {}, []
    for i, r in enumerate(runs):
        run_files = sorted((r.path / "results").glob("*.parquet"))
        try:
            run_schemas = [_read_schema(f) for f in run_files]
        except EditbenchError as e:
            _skip(r.path, str(e).rstrip("."))
            continue
        files += [str(f) for f in run_files]
        schemas += run_schemas
        owner.update({str(f): i for f in run_files})
    if not files and not any(fallback_files(r.path) for r in runs):
        raise EditbenchError(f"the run directories found ({len(runs)}) hold no result rows.")
    frames = []
    schema = pa.unify_schemas(schemas, promote_options="permissive") if files else pa.schema([])
    wanted = [c for c in schema.names if c in BASE_COLUMNS or c in known]
    dataset = ds.dataset(files, schema=schema, format="parquet") if files else None
    for frag in dataset.get_fragments() if dataset is not None else []:
        t = frag.to_table(columns=wanted, schema=schema)
        if t.num_rows == 0:
            continue
        df = t.to_pandas()
        r = runs[owner[frag.path]]
        df["run_id"], df["start_time"], df["run_suite"] = r.run_id, r.start_time, r.suite
        frames.append(df)
    for r in runs:                       # rows a Parquet shard could not hold
        for f in fallback_files(r.path):
            df = read_shard(f)
            df = df[[c for c in df.columns if c in BASE_COLUMNS or c in known]]
            df["run_id"], df["start_time"], df["run_suite"] = r.run_id, r.start_time, r.suite
            frames.append(df)
    if not frames:
        raise EditbenchError(f"the run directories found ({len(runs)}) hold no result rows.")
    df = pd.concat(frames, ignore_index=True)
    dup = df.duplicated(["run_id", "task_id", "pipeline", "seed"], keep=False)
    for run_id in sorted(df.loc[dup, "run_id"].unique()):
        print(f"editbench: warning: run {run_id} holds {int((dup & (df['run_id'] == run_id)).sum())} rows for "
              "repeated (task_id, pipeline, seed) keys; its trend points count them more than once.", file=sys.stderr)
    return df


def _skip(run: Path, why: str) -> None:
    print(f"editbench: warning: history skips run {run}: {why}.", file=sys.stderr)


def _read_schema(path: Path):
    """The Parquet schema of a result shard; EditbenchError naming it when it is empty or corrupt."""
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a broken file
        what = "is empty (0 bytes)" if path.stat().st_size == 0 else f"cannot be read as Parquet ({type(e).__name__})"
        raise EditbenchError(f"result shard {path} {what}.") from None


@dataclass
class Point:
    run_id: str
    start_time: str
    mean: float
    lo: float
    hi: float
    n_tasks: int


def latest_record(runs: list[RunInfo]) -> dict[str, dict]:
    """Every ranked column of the runs, described as its latest run (by start time) describes it."""
    out: dict[str, dict] = {}
    for r in sorted(runs, key=lambda r: (r.start_time, r.run_id)):
        out.update({c: m for c, m in r.metrics.items() if is_ranked(r.metrics, c) and not is_stage_column(c)})
    return out


def trends(df: pd.DataFrame, runs: list[RunInfo] | None = None) -> dict[str, dict[str, dict[str, list[Point]]]]:
    """suite -> metric -> pipeline -> points (one per run, in run order)."""
    out: dict = {}
    order = df[["run_id", "start_time"]].drop_duplicates().sort_values(["start_time", "run_id"])
    rank = {r: i for i, r in enumerate(order["run_id"])}
    records = {r.run_id: r.metrics for r in runs or []}
    record = latest_record(runs) if runs else {c: m for c, m in registry_record().items() if is_ranked(registry_record(), c)}
    for suite, sdf in df.groupby("run_suite", sort=True):
        metrics = [c for c in sdf.columns if c in record and sdf[c].notna().any()]
        out[suite] = {}
        for m in metrics:
            by_p: dict[str, list[Point]] = {}
            for (pipeline, run_id), g in sdf.groupby(["pipeline", "run_id"], sort=False):
                rows = metric_rows(g, m, records.get(run_id))
                rows = rows[rows[m].notna()]
                if rows.empty:
                    continue
                e = within_range(task_mean_ci_rows(rows["task_id"].to_numpy(), rows[m].to_numpy(dtype=np.float64)),
                                 (records.get(run_id) or record).get(m, {}).get("range"))
                by_p.setdefault(str(pipeline), []).append(Point(str(run_id), str(g["start_time"].iloc[0]),
                                                                e.mean, e.lo, e.hi, e.n_tasks))
            out[suite][m] = {p: sorted(pts, key=lambda x: rank[x.run_id]) for p, pts in sorted(by_p.items())}
    return out


def _label(p: Point) -> str:
    return (p.start_time or p.run_id)[:16].replace("T", " ")


NOTE = ("Each cell: task mean [95 % bootstrap CI] of that run (ok rows; latency metrics without warm-up rows); "
        "columns are runs by start time.")


def suite_tables(tr: dict, record: dict[str, dict] | None = None) -> list[tuple[str, list[str], list[list[str]]]]:
    """(suite, header, rows) of each suite's trend table: rows metric x pipeline, columns runs."""
    record = registry_record() if record is None else record
    directions = {m: direction(record, m) for m in record}
    out = []
    for suite, by_m in tr.items():
        runs: list[Point] = []
        for by_p in by_m.values():
            for pts in by_p.values():
                for p in pts:
                    if p.run_id not in [r.run_id for r in runs]:
                        runs.append(p)
        runs.sort(key=lambda p: (p.start_time, p.run_id))
        head = ["metric", "pipeline", *[f"{_label(r)} ({r.run_id[-6:]})" for r in runs]]
        rows = []
        for m, by_p in by_m.items():
            for pipeline, pts in by_p.items():
                cell = {p.run_id: f"{fmt(p.mean)} [{fmt(p.lo)}, {fmt(p.hi)}]" for p in pts}
                rows.append([f"{m} {'↑' if directions.get(m) == 'higher' else '↓'}", pipeline,
                             *[cell.get(r.run_id, "") for r in runs]])
        out.append((suite, head, rows))
    return out


def render_markdown(tr: dict, n_runs: int, record: dict[str, dict] | None = None) -> str:
    parts = [f"# Run history ({n_runs} runs)", "", NOTE, ""]
    for suite, head, rows in suite_tables(tr, record):
        parts += [f"## Suite {md(suite)}", "", format_markdown(head, rows), ""]
    return "\n".join(parts)


def write_history(root: str | Path, *, html: bool = True) -> str:
    """Write history.md (and history.html with trend plots) into ``root``; return the Markdown."""
    root = Path(root)
    runs = find_runs(root)
    tr = trends(read_history(runs), runs)
    record = latest_record(runs)
    text = render_markdown(tr, len(runs), record)
    atomic_write_text(root / "history.md", text)
    if html:
        directions = {m: direction(record, m) for m in record}
        body = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Run history</title>"
                f"<style>{CSS}</style></head><body><h1>Run history ({len(runs)} runs)</h1>"
                f"<p class='note'>{escape(NOTE)}</p>"]
        tables = {suite: (head, rows) for suite, head, rows in suite_tables(tr, record)}
        for suite, by_m in tr.items():
            data = {m: {p: [(_label(x), x.mean, x.lo, x.hi) for x in pts] for p, pts in by_p.items()}
                    for m, by_p in by_m.items()}
            body += [f"<h2>Suite {escape(suite)}</h2>", img(plots.trend(data, directions), f"{suite} trends"),
                     table_html(*tables[suite])]
        body += ["</body></html>"]
        atomic_write_text(root / "history.html", "\n".join(body))
    return text

