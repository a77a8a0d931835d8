"""The edits a reviewer browses: for every task, crops around the mask of the source (mask contour
drawn), the target when there is one, and every pipeline's output, each with that row's metrics.

Tasks are shown :data:`PAGE_TASKS` to a page: the first page inside leaderboard.html, every page as
``<out>/report/tasks-NNN.html`` (offline files, linked from the leaderboard). Crops are embedded as
JPEG data URIs; full-size outputs are linked by their path relative to the page, never embedded. Every
output file read lies inside the run directory (a row whose ``output_path`` leaves it is shown as such).
"""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image
from harness.core.storage import atomic_write_text, confined, no_links_below
from harness.masks import with_stored_mask
from reports.crops import crop, crop_box, draw_contour
from reports.format import fmt_num
from reports.rows import metric_columns
from reports.views import view_of
from scorers.columns import primary_metric
from scorers.regions import aligned_output, source_image, task_mask
from tasks.schema import Task, resolve_task

if TYPE_CHECKING:
    from reports.leaderboard import Report

PAGE_TASKS = 20         # tasks per page
PAGES_DIR = "report"    # <out>/report/tasks-NNN.html


def jpeg_uri(image: np.ndarray, quality: int = 85) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def run_link(rel: object) -> str | None:
    """``rel`` as an href when it is a plain relative path inside a run (``outputs/p/t__s0.png``): no
    scheme or colon (``javascript:``), no ``..``, no absolute or backslashed path; URL-quoted. Else None."""
    if not isinstance(rel, str) or not rel or len(rel) > 4096 or any(c in rel for c in ':\\\x00?#') \
            or rel.startswith("/") or any(p in ("", ".", "..") for p in rel.split("/")):
        return None
    return quote(rel, safe="/[]=,._-")


def inside(root: Path, rel: str) -> Path | None:
    """``root / rel`` when it resolves inside ``root`` (:func:`harness.core.storage.confined`), else None."""
    try:
        return confined(root, rel)
    except EditbenchError:
        return None


def _task_pixels(suite, task: Task, out: Path | None = None):
    """(canvas RGB, mask bool, target RGB or None) of an image task on its comparison grid; a SAM mask
    recipe is read from the mask the run stored for the task (harness.execution.mask_stage)."""
    t = resolve_task(suite, task)
    if out is not None:
        t = with_stored_mask(t, out)
    canvas = source_image(t)
    mask = task_mask(t, canvas.shape[:2])
    target = None
    if t.target:
        try:
            target = aligned_output(load_image(t.target), canvas.shape[:2], what="canvas")
        except Exception:  # noqa: BLE001 - a target of another shape is simply not shown
            target = None
    return canvas, mask, target


def _figure(uri: str, caption: str, *, href: str | None = None) -> str:
    im = f'<img class="crop" alt="{escape(caption, quote=True)}" src="{uri}">'
    if href:
        im = f'<a href="{escape(href, quote=True)}">{im}</a>'
    return f"<figure>{im}<figcaption>{caption}</figcaption></figure>"


def _metrics_line(row, cols: list[str], primary: str | None) -> str:
    parts = []
    for c in cols:
        v = row.get(c)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        label = f"<b>{escape(c)}</b>" if c == primary else escape(c)
        parts.append(f"{label} {escape(fmt_num(float(v)))}")
    return "<br>".join(parts)


def task_section(r: "Report", suite, task_id: str, *, link_prefix: str, rows=None, tasks=None) -> str:
    """One task: prompt, source/target/output crops, the metrics of each shown row. ``rows`` (the task's
    result rows) and ``tasks`` ({task_id: Task}) may be passed in by callers that show many tasks."""
    df = r.df[r.df["task_id"] == task_id] if rows is None else rows
    if tasks is None:
        tasks = {t.task_id: t for t in suite.tasks} if suite else {}
    task = tasks.get(task_id)
    text = " ".join(x for x in (task.prompt, task.instruction) if x) if task else ""
    head = f'<h3 id="{escape(task_id, quote=True)}">{escape(task_id)}</h3>'
    if text:
        head += f'<p class="prompt">{escape(text)}</p>'
    if task is not None and (not view_of(task.kind).edit_pages or not task.image):
        return head + '<p class="missing">no image task: see the sample grid above.</p>'
    figs: list[str] = []
    canvas = box = None
    if task is None:
        head += ('<p class="missing">The suite file recorded in run.json was not found: no source or mask; '
                 'whole outputs are shown.</p>')
    else:
        try:
            canvas, mask, target = _task_pixels(suite, task, r.out)
        except Exception as e:  # noqa: BLE001 - one unreadable source must not break the page
            return head + f'<p class="missing">{escape(str(e))}</p>'
        box = crop_box(mask) if mask is not None else (0, 0, canvas.shape[1], canvas.shape[0])
        shown = draw_contour(canvas, mask) if mask is not None else canvas
        figs.append(_figure(jpeg_uri(crop(shown, box)), "source (mask outlined)"))
        if target is not None:
            figs.append(_figure(jpeg_uri(crop(target, box)), "target"))
    if "_shown_metrics" not in r.__dict__:
        r.__dict__["_shown_metrics"] = metric_columns(r.df, r.metrics)
    cols = r.__dict__["_shown_metrics"]
    primary = primary_metric(r.metrics)
    shown_row: dict[str, dict] = {}     # pipeline -> its ok row with an output at the lowest seed
    first_error: dict[str, str] = {}
    records = df.to_dict("records") if hasattr(df, "to_dict") else df
    for rec in sorted(records, key=lambda x: (str(x["pipeline"]), x["seed"])):
        p = str(rec["pipeline"])
        if rec["status"] == "ok" and isinstance(rec.get("output_path"), str):
            shown_row.setdefault(p, rec)
        elif isinstance(rec.get("error"), str):
            first_error.setdefault(p, rec["error"])
        first_error.setdefault(p, "")
    for p in sorted(first_error):
        row = shown_row.get(p)
        if row is None:
            msg = f"no ok row: {first_error[p]}" if first_error[p] else "no ok row"
            figs.append(f'<figure class="missing"><figcaption><b>{escape(p)}</b><br>{escape(msg[:300])}</figcaption></figure>')
            continue
        rel = str(row["output_path"])
        caption = f"<b>{escape(p)}</b> · seed {escape(str(row['seed']))}<br>{_metrics_line(row, cols, primary)}"
        path, link = inside(r.out, rel), run_link(rel)
        if path is None or link is None:
            why = "lies outside the run directory" if path is None else "is not a plain relative path in the run"
            figs.append(f'<figure class="missing"><figcaption>{caption}<br>output path {escape(rel)} '
                        f'{why}: not read</figcaption></figure>')
            continue
        try:
            out_img = load_image(path)
            if canvas is not None:
                out_img = crop(aligned_output(out_img, canvas.shape[:2], what="canvas"), box)
            else:
                out_img = crop(out_img, (0, 0, out_img.shape[1], out_img.shape[0]))
            figs.append(_figure(jpeg_uri(out_img), caption, href=link_prefix + link))
        except Exception as e:  # noqa: BLE001
            figs.append(f'<figure class="missing"><figcaption>{caption}<br>{escape(str(e))}</figcaption></figure>')
    return head + '<div class="crops">' + "".join(figs) + "</div>"


def page_name(i: int) -> str:
    return f"tasks-{i + 1:03d}.html"


def pages(r: "Report") -> list[list[str]]:
    ids = sorted(str(t) for t in r.df["task_id"].dropna().unique())
    return [ids[i:i + PAGE_TASKS] for i in range(0, len(ids), PAGE_TASKS)] or [[]]


def page_links(n: int, *, prefix: str, current: int | None = None) -> str:
    links = [(f"<b>{i + 1}</b>" if i == current else f'<a href="{prefix}{page_name(i)}">{i + 1}</a>') for i in range(n)]
    return '<p class="pages">Task pages: ' + " ".join(links) + "</p>"


def edits_section(r: "Report", suite, task_ids: list[str], *, link_prefix: str, by_task=None) -> str:
    by_task = by_task if by_task is not None else _by_task(r)
    tasks = {t.task_id: t for t in suite.tasks} if suite else {}
    return "".join(task_section(r, suite, t, link_prefix=link_prefix, rows=by_task.get(t, []), tasks=tasks)
                   for t in task_ids)


def _by_task(r: "Report") -> dict[str, list[dict]]:
    """The run's rows as records grouped by task, in one pass (pages of 10^4 tasks must not filter the
    frame per task)."""
    keep = ["task_id", "pipeline", "seed", "status", "output_path", "error",
            *metric_columns(r.df, r.metrics)]
    out: dict[str, list[dict]] = {}
    for rec in r.df[[c for c in keep if c in r.df.columns]].to_dict("records"):
        out.setdefault(str(rec["task_id"]), []).append(rec)
    return out


def write_pages(r: "Report", suite, css: str) -> list[Path]:
    """Write every task page under ``<out>/report/``; returns their paths."""
    groups = pages(r)
    d = no_links_below(r.out, r.out / PAGES_DIR)     # a report/ planted as a link is refused, not followed
    d.mkdir(exist_ok=True)
    written = []
    by_task = _by_task(r)
    for i, ids in enumerate(groups):
        body = edits_section(r, suite, ids, link_prefix="../", by_task=by_task)
        nav = page_links(len(groups), prefix="", current=i)
        html = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(r.title)}: tasks "
                f"{i + 1}/{len(groups)}</title><style>{css}</style></head><body><h1>{escape(r.title)}</h1>"
                f"<p class='sub'><a href='../leaderboard.html'>back to the leaderboard</a></p>{nav}{body}{nav}</body></html>")
        written.append(atomic_write_text(d / page_name(i), html, root=r.out))
    return written
