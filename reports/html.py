"""The self-contained leaderboard page: inline CSS, plots and thumbnails as base64 data URIs.

Opening ``leaderboard.html`` needs no network and no side files. Every piece of user text (pipeline
names, task ids, prompts, run metadata, error messages) passes through :func:`html.escape`, so a
prompt holding ``<script>`` shows as text.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.core.errors import EditbenchError
from reports import arena_report, edits_html, plots
from reports.leaderboard import NOTE, table_rows
from reports.ranking import rank
from reports.rows import metric_columns, not_warmup, stage_columns
from reports.terminal import ranked_rows
from reports.views import has_edit_pages, has_sample_grid, img, run_view, view_of
from scorers.columns import direction, primary_metric
from tasks.loading import load_suite
from tasks.schema import Task

if TYPE_CHECKING:
    from reports.leaderboard import Report

GRID_TASKS = 6          # tasks in the image grid (the first ones by task_id)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.sub{color:#555;font-size:13px} .note{color:#555;font-size:12px;max-width:900px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
img.plot{max-width:100%;border:1px solid #eee;margin:6px 0}
table.grid td{text-align:center;font-size:11px} table.grid img{display:block;margin:auto;max-width:170px}
.prompt{max-width:900px;white-space:pre-wrap;word-break:break-word;text-align:left;color:#444;font-size:12px}
.missing{color:#999} .scroll{overflow-x:auto;max-width:100%}
.crops{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
figure{margin:0;font-size:11px;max-width:260px} figcaption{margin-top:3px;line-height:1.35}
img.crop{display:block;max-width:256px;max-height:256px;border:1px solid #ccc}
h3{font-size:14px;margin:22px 0 4px} .pages a,.pages b{margin-right:6px} .best{font-size:14px}
"""


def table_html(head: list[str], rows: list[list[str]]) -> str:
    """A table inside a horizontally scrolling box (wide tables never spill out of the page)."""
    return f'<div class="scroll">{_table(head, rows)}</div>'


def _table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{escape(c)}</th>" for c in head)
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            cls = ' class="num"' if i > 0 and c[:1] in "-0123456789" else ""
            cells.append(f"<td{cls}>{escape(str(c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _load_suite(meta: dict):
    """The run's suite from run.json's recorded source path, or None when it is gone or unreadable."""
    src = (meta.get("suite") or {}).get("source")
    if not src or not Path(src).is_file():
        return None
    try:
        return load_suite(src)
    except EditbenchError:
        return None


def _output_cell(out: Path, rel: str | None, task: Task | None) -> str:
    return view_of(task.kind if task is not None else None).output_cell(out, rel, task)


def image_grid(r: "Report", *, n_tasks: int = GRID_TASKS) -> str:
    """Source / mask / each pipeline's output (lowest ok seed) for the first ``n_tasks`` tasks."""
    df = r.df
    suite = _load_suite(r.meta)
    tasks = {t.task_id: t for t in suite.tasks} if suite else {}
    pipelines = sorted(df["pipeline"].dropna().unique())
    ok = df[(df["status"] == "ok") & df["output_path"].notna()].sort_values("seed")
    first = ok.drop_duplicates(["task_id", "pipeline"]).set_index(["task_id", "pipeline"])
    shared = ok["output_path"].value_counts()   # one file per row is the contract; flag overwrites
    second = run_view(df["kind"].dropna()).second_column
    head = "".join(f"<th>{escape(c)}</th>" for c in ["task", "source", second, *pipelines])
    rows = []
    for tid in sorted(df["task_id"].dropna().unique())[:n_tasks]:
        task = tasks.get(tid)
        text = ""
        if task is not None:
            text = " ".join(x for x in (task.prompt, task.instruction) if x)
        src, mask = view_of(task.kind if task is not None else None).source_cells(suite, task)
        cells = [f'<td class="prompt"><b>{escape(str(tid))}</b><br>{escape(text)}</td>', f"<td>{src}</td>", f"<td>{mask}</td>"]
        for p in pipelines:
            if (tid, p) in first.index:
                row = first.loc[(tid, p)]
                n = int(shared.get(row["output_path"], 1))
                warn = f'<br><span class="missing">file shared by {n} rows: shows the last one written</span>' if n > 1 else ""
                cells.append(f"<td>{_output_cell(r.out, row['output_path'], task)}<br>seed {escape(str(row['seed']))}{warn}</td>")
            else:
                err = df[(df["task_id"] == tid) & (df["pipeline"] == p)]["error"].dropna()
                msg = f"no ok row: {err.iloc[0]}" if len(err) else "no ok row"
                cells.append(f'<td class="missing">{escape(msg[:300])}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = "" if suite else ("<p class='note'>The suite file recorded in run.json was not found: sources and masks "
                             "are not shown.</p>")
    return f'{note}<table class="grid"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def informative(r: "Report", metrics: list[str]) -> tuple[list[str], dict[str, str]]:
    """(metrics worth a plot, {metric: why not} for the others): a plot of values that are all
    non-finite, or identical for every pipeline, carries no information."""
    keep, why = [], {}
    for m in metrics:
        ests = [e.metrics.get(m) for e in r.overall]
        means = [e.mean for e in ests if e is not None and e.ok]
        if not means:
            inf = sum(e.infinite.get(m, 0) for e in r.overall)
            why[m] = "every value is +inf (identical pixels)" if inf else "no finite value"
        elif len(means) > 1 and np.ptp(means) == 0 and all(e.lo == e.hi for e in ests if e is not None and e.ok):
            why[m] = f"{means[0]:g} for every pipeline and task"
        else:
            keep.append(m)
    return keep, why


def summary_html(r: "Report") -> str:
    """The ranked summary: pipelines by the primary metric, marks, and the recommendation sentence."""
    cols = metric_columns(r.df, r.metrics)
    primary = primary_metric(r.metrics)
    if primary not in cols:
        primary = cols[0] if cols else None
    ranking = rank(r.df, r.overall, r.metrics, primary)
    head, rows = ranked_rows(r, ranking, [c for c in cols if c != primary])
    choice, reason = ranking.choice()
    best = (f"<p class='best'><b>Best: {escape(choice.pipeline)}</b> — {escape(reason)}.</p>" if choice else
            "<p class='missing'>No pipeline has a value of the primary metric.</p>")
    legend = "<p class='note'>★ measurably best · = not measurably different from #1 · ▼ measurably worse than #1</p>"
    return best + table_html(head, rows) + legend


def people_html(p: arena_report.People) -> str:
    """The people's ratings and the agreement table (:mod:`reports.arena_report`)."""
    parts = [f"<h2>People's ratings ({escape(arena_report.count_text(p))})</h2>",
             f"<p class='note'>{escape(arena_report.RATING_NOTE)}</p>"]
    if p.ratings:
        parts.append(table_html(*arena_report.rating_rows(p)))
    parts += ["<h2>Agreement with people on this suite</h2>", f"<p class='note'>{escape(arena_report.AGREEMENT_NOTE)}</p>",
              table_html(*arena_report.agreement_rows(p)),
              *[f"<p class='note'>{escape(x)}</p>" for x in arena_report.kappa_lines(p)],
              *[f"<p class='note'>note: {escape(n)}.</p>" for n in p.notes]]
    return "\n".join(parts)


def render_html(r: "Report") -> str:
    """The whole leaderboard page as one HTML string."""
    metrics = metric_columns(r.df, r.metrics)
    directions = {m: direction(r.metrics, m) for m in metrics}
    plotted, omitted = informative(r, metrics)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(r.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(r.title)}</h1><p class='sub'>{escape(r.subtitle())}</p>",
        "<h2>Ranking</h2>", summary_html(r), f"<p class='note'>{escape(NOTE)}</p>",
        "<h2>All tasks</h2>", table_html(*table_rows(r.df, r.overall, [], r.metrics)),
    ]
    for p, ents in r.sweeps.items():
        parts += [f"<h2>By {escape(p.removeprefix('param.'))}</h2>", table_html(*table_rows(r.df, ents, [p], r.metrics))]
    if r.people is not None:
        parts.append(people_html(r.people))
    parts += ["<h2>Metrics with 95 % CI</h2>", img(plots.metric_bars(r.overall, plotted, directions), "metric bars")
              if plotted else ""]
    if omitted:
        parts.append("<p class='note'>Not plotted (no information in a plot): "
                     + "; ".join(f"{escape(m)}: {escape(why)}" for m, why in omitted.items()) + ".</p>")
    ok = r.df[(r.df["status"] == "ok")]
    ok = ok[not_warmup(ok)]
    samples = {s: {str(p): g[s].dropna().to_numpy(dtype=np.float64) for p, g in ok.groupby("pipeline")}
               for s in stage_columns(r.df)}
    parts += ["<h2>Latency distributions (non-warm-up rows)</h2>", img(plots.latency_boxes(samples), "latency")]
    for p, ents in r.sweeps.items():
        name = p.removeprefix("param.")
        parts += [f"<h2>Metrics vs {escape(name)}</h2>", img(plots.sweep_curves(p, ents, plotted, directions), f"{name} curves")]
    suite = _load_suite(r.meta)
    kinds = set(r.df["kind"].dropna())
    if has_sample_grid(kinds):
        parts += ["<h2>Sample outputs</h2>", image_grid(r)]
    groups = edits_html.pages(r) if not kinds or has_edit_pages(kinds) else []
    nav = edits_html.page_links(len(groups), prefix=f"{edits_html.PAGES_DIR}/", current=0) if len(groups) > 1 else ""
    if groups:
        parts += [f"<h2>Edits: crops around each mask ({r.df['task_id'].nunique()} tasks)</h2>",
                  "<p class='note'>Each crop is the mask's bounding box with context around it, the same box in "
                  "every output; click an output for the full image. Metrics are that row's.</p>", nav,
                  edits_html.edits_section(r, suite, groups[0], link_prefix=""), nav]
    errors = r.df[r.df["status"] != "ok"]
    if len(errors):
        rows = [[str(x.pipeline), str(x.task_id), str(x.seed), str(x.status), str(x.error)[:300]]
                for x in errors.head(50).itertuples()]
        parts += [f"<h2>Errors and timeouts ({len(errors)})</h2>",
                  table_html(["pipeline", "task", "seed", "status", "message"], rows)]
    parts.append("</body></html>")
    return "\n".join(parts)
