"""A static leaderboard site across suites and nights: one self-contained folder, readable offline.

``editbench site ROOT --out SITE`` reads ``ROOT/<suite>/<run_id>/`` (the nightly layout) and writes::

    SITE/index.html                     every suite: its latest ranking, its gate verdict, the primary
                                        metric of each pipeline over nights (an inline SVG sparkline)
    SITE/<suite>/index.html             that suite's runs (newest first, the accepted baseline marked), the
                                        primary metric over nights, links to each run's pages
    SITE/<suite>/<run_id>/...           each run's leaderboard.html, report/ pages, gate.md and outputs/

Every link is relative and every image inline or copied, so the folder can be published as static files.
Numbers come from each run's results.json (written with every report; built when missing).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from html import escape
from pathlib import Path

from harness.core.errors import EditbenchError
from harness.core.storage import atomic_write_text
from reports.baselines import current
from reports.html import CSS
from reports.summary import write_results_json

COPIED = ("leaderboard.html", "leaderboard.md", "gate.md", "gate.json", "results.json")
COPIED_DIRS = ("report", "outputs")


@dataclass
class Night:
    run_id: str
    path: Path
    start: str
    status: str
    primary: str | None
    means: dict[str, float]          # pipeline -> primary task mean
    direction: str
    verdict: str | None              # the gate's verdict of this run (gate.json), if gated


def _night(run: Path) -> Night | None:
    try:
        meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    if not (run / "results.json").is_file():
        try:
            write_results_json(run)
        except EditbenchError:
            return None
    doc = json.loads((run / "results.json").read_text(encoding="utf-8"))
    primary = meta.get("primary")
    means, direction = {}, "none"
    for p, entry in (doc.get("results") or {}).items():
        m = (entry.get("metrics") or {}).get(primary) if primary else None
        if m and m.get("mean") is not None:
            means[p] = float(m["mean"])
            direction = m.get("direction") or direction
    verdict = None
    if (run / "gate.json").is_file():
        try:
            g = json.loads((run / "gate.json").read_text(encoding="utf-8"))
            verdict = {0: "pass", 1: "regression", 2: "unusable"}.get(g.get("exit_code"), str(g.get("exit_code")))
        except (OSError, ValueError):
            verdict = None
    return Night(run_id=str(meta.get("run_id", run.name)), path=run, start=str(meta.get("start_time", "")),
                 status=str(meta.get("status")), primary=primary, means=means, direction=direction, verdict=verdict)


def nights(suite_dir: Path) -> list[Night]:
    """The runs of one suite folder, oldest first."""
    found = [n for n in (_night(r) for r in suite_dir.iterdir() if r.is_dir()) if n is not None]
    return sorted(found, key=lambda n: (n.start, n.run_id))


def sparkline(values: list[float], *, width: int = 140, height: int = 28) -> str:
    """An inline SVG polyline of ``values`` (finite ones), or a dash for fewer than two."""
    vals = [v for v in values if math.isfinite(v)]
    if len(vals) < 2:
        return "—" if not vals else f"{vals[0]:.4g}"
    lo, hi = min(vals), max(vals)
    span = hi - lo or 1.0
    pts = " ".join(f"{i * (width - 4) / (len(vals) - 1) + 2:.1f},{height - 2 - (v - lo) / span * (height - 4):.1f}"
                   for i, v in enumerate(vals))
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{len(vals)} nights from {vals[0]:.4g} to {vals[-1]:.4g}">'
            f'<polyline fill="none" stroke="#3366aa" stroke-width="1.5" points="{pts}"/></svg> {vals[-1]:.4g}')


def ranking_text(n: Night) -> str:
    """Pipelines by their primary mean, best first (the direction of the primary)."""
    if not n.means:
        return "not rankable (no primary metric value)"
    order = sorted(n.means, key=lambda p: n.means[p], reverse=n.direction == "higher")
    return " > ".join(f"{p} ({n.means[p]:.4g})" for p in order)


def _copy_run(n: Night, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for f in COPIED:
        if (n.path / f).is_file() and not (n.path / f).is_symlink():
            shutil.copyfile(n.path / f, dest / f)
    for d in COPIED_DIRS:
        src = n.path / d
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, dest / d, dirs_exist_ok=True, symlinks=False,
                            ignore=lambda folder, names: [x for x in names if (Path(folder) / x).is_symlink()])


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>")


def write_site(root: str | Path, out: str | Path) -> Path:
    """Write the site of nightly root ``root`` into ``out``; returns the index path."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise EditbenchError(f"root {root} does not exist.")
    suites = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    rows, sections = [], []
    for d in suites:
        ns = nights(d)
        if not ns:
            continue
        latest, base = ns[-1], current(root, ns[-1].path.parent.name) or current(root, _suite_name(ns[-1]))
        for n in ns:
            _copy_run(n, out / d.name / n.run_id)
        pipelines = sorted({p for n in ns for p in n.means})
        spark = "<br>".join(f"{escape(p)}: {sparkline([n.means.get(p, math.nan) for n in ns])}" for p in pipelines)
        rows.append(f"<tr><td><a href='{escape(d.name)}/index.html'>{escape(d.name)}</a></td>"
                    f"<td>{escape(latest.primary or '—')}</td><td>{escape(ranking_text(latest))}</td>"
                    f"<td>{escape(latest.verdict or 'not gated')}</td><td>{spark or '—'}</td>"
                    f"<td><a href='{escape(d.name)}/{escape(latest.run_id)}/leaderboard.html'>{escape(latest.run_id)}</a>"
                    f"</td></tr>")
        run_rows = []
        for n in reversed(ns):
            mark = " (accepted baseline)" if base is not None and base.run_id == n.run_id else ""
            link = f"{escape(n.run_id)}/leaderboard.html"
            run_rows.append(f"<tr><td><a href='{link}'>{escape(n.run_id)}</a>{escape(mark)}</td><td>{escape(n.start)}</td>"
                            f"<td>{escape(n.status)}</td><td>{escape(n.verdict or 'not gated')}</td>"
                            f"<td>{escape(ranking_text(n))}</td></tr>")
        body = (f"<p class='sub'><a href='../index.html'>all suites</a> · primary {escape(latest.primary or '—')}"
                f" · accepted baseline: {escape(base.run_id if base else 'none')}</p><h2>Primary metric over nights</h2>"
                f"<p>{spark or '—'}</p><h2>Runs</h2><table><thead><tr><th>run</th><th>started</th><th>status</th>"
                f"<th>gate</th><th>ranking (primary)</th></tr></thead><tbody>{''.join(run_rows)}</tbody></table>")
        atomic_write_text(_mkdir(out / d.name) / "index.html", _page(f"Suite {d.name}", body))
        sections.append(d.name)
    if not rows:
        raise EditbenchError(f"root {root} holds no run at ROOT/SUITE/RUN_ID.")
    index = (f"<p class='sub'>{len(sections)} suites · newest run of each</p>"
             "<table><thead><tr><th>suite</th><th>primary</th><th>ranking (latest night)</th><th>gate</th>"
             f"<th>primary over nights</th><th>latest run</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return atomic_write_text(_mkdir(out) / "index.html", _page("editbench nightly", index))


def _suite_name(n: Night) -> str:
    try:
        return str(json.loads((n.path / "run.json").read_text(encoding="utf-8"))["suite"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return n.path.parent.name


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p

