"""The self-contained leaderboard page: inline CSS, plots and thumbnails as base64 data URIs.

Opening ``leaderboard.html`` needs no network and no side files. Every piece of user text (pipeline
names, task ids, prompts, run metadata, error messages) passes through :func:`html.escape`, so a
prompt holding ``<script>`` shows as text.
"""

from __future__ import annotations

import io
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.core.errors import EditbenchError
from harness.core.storage import confined
from reports import plots

if TYPE_CHECKING:
    from reports.leaderboard import Report

GRID_TASKS = 6          # tasks in the image grid (the first ones by task_id)
THUMB_PX = 160          # longest side of a thumbnail

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


def img(uri: str | None, alt: str, cls: str = "plot") -> str:
    if not uri:
        return f'<p class="missing">{escape(alt)}: nothing to plot</p>'
    return f'<img class="{cls}" alt="{escape(alt, quote=True)}" src="{uri}">'


def _thumb_uri(arr: np.ndarray) -> str:
    from PIL import Image

    im = Image.fromarray(np.asarray(arr))
    im.thumbnail((THUMB_PX, THUMB_PX))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return plots.png_uri(buf.getvalue())


def _load_suite(meta: dict):
    """The run's suite from run.json's recorded source path, or None when it is gone or unreadable."""
    from harness.core.errors import EditbenchError
    from tasks.loading import load_suite

    src = (meta.get("suite") or {}).get("source")
    if not src or not Path(src).is_file():
        return None
    try:
        return load_suite(src)
    except EditbenchError:
        return None


def _toy_mask(task) -> np.ndarray | None:
    if task is None or task.kind != "toy":
        return None
    try:
        from harness.toy.task import toy_mask

        return toy_mask(float(task.params["mask_fraction"])).numpy()
    except Exception:  # noqa: BLE001 - a thumbnail without a mask is still a thumbnail
        return None


def _toy_known(task) -> np.ndarray | None:
    """The toy task's source samples (their known dims are what an output must agree with)."""
    if task is None or task.kind != "toy":
        return None
    try:
        from harness.toy.task import toy_source

        return toy_source(task.params).x0.numpy()
    except Exception:  # noqa: BLE001 - a thumbnail against its own dims is still a thumbnail
        return None


def _source_cells(suite, task) -> tuple[str, str]:
    """(source, mask) cells of one task; placeholders where the suite or the file is missing."""
    from harness.core.errors import EditbenchError
    from harness.core.imageio import load_image, load_mask

    if suite is None or task is None:
        return '<span class="missing">suite not found</span>', '<span class="missing">—</span>'
    if task.kind == "toy":
        try:
            from harness.toy.task import toy_source

            import torch

            from harness.toy.task import exact_conditional

            src = toy_source(task.params)
            truth = exact_conditional(src, generator=torch.Generator().manual_seed(0))
            dims = np.flatnonzero(src.mask.numpy()).tolist()
            return (img(plots.array_thumbnail(src.x0.numpy(), mask=src.mask.numpy(), title="source"), "source", "thumb"),
                    img(plots.array_thumbnail(truth.numpy(), mask=src.mask.numpy(), title=f"true conditional, dims {dims}"),
                        "the exact conditional distribution of the regenerated dims", "thumb"))
        except Exception as e:  # noqa: BLE001
            return f'<span class="missing">{escape(str(e))}</span>', ""
    if not task.image:
        return '<span class="missing">no image</span>', '<span class="missing">—</span>'
    try:
        image = load_image(suite.resolve_path(task.image, field=f"tasks[{task.task_id}].image"))
    except EditbenchError as e:
        return f'<span class="missing">{escape(str(e))}</span>', ""
    source = img(_thumb_uri(image), "source", "thumb")
    if task.mask is None:
        return source, '<span class="missing">no mask</span>'
    try:
        m = task.mask if isinstance(task.mask, dict) else str(suite.resolve_path(task.mask, field="mask"))
        mask = load_mask(m, shape=image.shape[:2], where=f"task {task.task_id}")
        return source, img(_thumb_uri((mask * 255).astype(np.uint8)), "mask", "thumb")
    except EditbenchError as e:
        return source, f'<span class="missing">{escape(str(e))}</span>'


def _output_cell(out: Path, rel: str | None, task) -> str:
    if not rel:
        return '<span class="missing">no output</span>'
    try:
        path = confined(out, rel)  # a row naming a file outside the run is never read
    except EditbenchError:
        return f'<span class="missing">{escape(rel)} lies outside the run directory</span>'
    if not path.is_file():
        return f'<span class="missing">{escape(rel)} missing</span>'
    try:
        if path.suffix == ".npy":
            return img(plots.array_thumbnail(np.load(path), mask=_toy_mask(task), known_from=_toy_known(task)),
                       rel, "thumb")
        from harness.core.imageio import load_image

        return img(_thumb_uri(load_image(path)), rel, "thumb")
    except Exception as e:  # noqa: BLE001 - one broken output must not break the page
        return f'<span class="missing">{escape(f"{rel}: {e}")}</span>'


def image_grid(r: "Report", *, n_tasks: int = GRID_TASKS) -> str:
    """Source / mask / each pipeline's output (lowest ok seed) for the first ``n_tasks`` tasks."""
    df = r.df
    suite = _load_suite(r.meta)
    tasks = {t.task_id: t for t in suite.tasks} if suite else {}
    pipelines = sorted(df["pipeline"].dropna().unique())
    ok = df[(df["status"] == "ok") & df["output_path"].notna()].sort_values("seed")
    first = ok.drop_duplicates(["task_id", "pipeline"]).set_index(["task_id", "pipeline"])
    shared = ok["output_path"].value_counts()   # one file per row is the contract; flag overwrites
    toy = set(df["kind"].dropna()) == {"toy"}
    second = "true conditional" if toy else "mask"   # toy: what a perfect sampler's scatter looks like
    head = "".join(f"<th>{escape(c)}</th>" for c in ["task", "source", second, *pipelines])
    rows = []
    for tid in sorted(df["task_id"].dropna().unique())[:n_tasks]:
        task = tasks.get(tid)
        text = ""
        if task is not None:
            text = " ".join(x for x in (task.prompt, task.instruction) if x)
        src, mask = _source_cells(suite, task)
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
    note = "" if suite else "<p class='note'>The suite file recorded in run.json was not found: sources and masks are not shown.</p>"
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
    from reports.leaderboard import metric_columns
    from scorers.columns import primary_metric
    from reports.ranking import rank
    from reports.terminal import ranked_rows

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


def render_html(r: "Report") -> str:
    """The whole leaderboard page as one HTML string."""
    from reports.leaderboard import NOTE, metric_columns, not_warmup, stage_columns, table_rows
    from scorers.columns import direction

    from reports import edits_html

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
    if "toy" in set(r.df["kind"].dropna()):
        parts += ["<h2>Sample outputs</h2>", image_grid(r)]
    groups = edits_html.pages(r) if set(r.df["kind"].dropna()) != {"toy"} else []
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
