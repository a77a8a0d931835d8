"""The leaderboard as a person reads it in a terminal: one compact ranked table (rich), 120 columns.

Pipelines are sorted by the run's primary metric (:mod:`reports.ranking`) with its CI; ★ marks a winner
(measurably better than every other pipeline), ``=`` a pipeline not measurably different from the best,
``▼`` one measurably worse. Then as many secondary metric means as fit in the width, the ok/error/timeout
counts and the median latency. A note names what was left out (``--wide`` shows everything; the full
tables are in leaderboard.md/.html). Each declared sweep axis gets a compact table of the primary metric.
"""

from __future__ import annotations

import io

from reports.arena_report import terminal_section
from reports.format import fmt_estimate, fmt_ms, fmt_num
from reports.leaderboard import Report
from reports.ranking import Ranking, median_latency, rank
from reports.rows import metric_columns
from scorers.columns import direction, primary_metric

WIDTH = 120
ARROW = {"higher": "↑", "lower": "↓", "none": ""}
MARK = {"winner": "★", "tied": "=", "worse": "▼", "none": " "}


def _mark(ranking: Ranking, i: int) -> str:
    if len(ranking.ranked) < 2:
        return MARK["none"]                   # nothing to compare with
    if ranking.winner is not None and i == 0:
        return MARK["winner"]
    return MARK["tied"] if i == 0 or not ranking.ranked[i].worse else MARK["worse"]


def _width(cells: list[str]) -> int:
    return max(len(c) for c in cells) + 3      # padding and the column separator


def ranked_rows(r: Report, ranking: Ranking, secondary: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (plain text) of the ranked table."""
    m = ranking.metric
    head = ["#", "", "pipeline"]
    if m:
        head.append(f"{m} {ARROW[ranking.direction]} [95% CI]")
    head += [f"{c} {ARROW[direction(r.metrics, c)]}" for c in secondary] + ["ok/err/to", "p50 latency"]
    rows = []
    for i, x in enumerate(ranking.ranked):
        e = x.entry
        cells = [str(i + 1), _mark(ranking, i), e.pipeline, fmt_estimate(e.metrics[m])]
        cells += [_secondary(e, c) for c in secondary]
        cells += [f"{e.counts['ok']}/{e.counts['error']}/{e.counts['timeout']}", fmt_ms(x.p50_ms)]
        rows.append(cells)
    for e in ranking.unranked:
        why = "random weights" if e.random_only else "no value"
        cells = ["-", " ", e.pipeline] + ([why] if m else [])
        cells += [_secondary(e, c) for c in secondary]
        cells += [f"{e.counts['ok']}/{e.counts['error']}/{e.counts['timeout']}", fmt_ms(median_latency(r.df, e.pipeline))]
        rows.append(cells)
    return head, rows


def _secondary(e, c: str) -> str:
    est = e.metrics.get(c)
    if e.random_only and not c.startswith("latency"):
        return "n/a"
    if e.infinite.get(c) and (est is None or not est.ok):
        return "inf"                         # every value +inf (PSNR of identical pixels)
    if est is None or not est.ok:
        return "—"
    return fmt_num(est.mean)


def _fit(r: Report, ranking: Ranking, candidates: list[str], width: int) -> tuple[list[str], list[str]]:
    """(secondary columns that fit in ``width``, those left out), in the run's column order."""
    shown: list[str] = []
    for c in candidates:
        head, rows = ranked_rows(r, ranking, shown + [c])
        total = sum(_width([h, *[row[i] for row in rows]]) for i, h in enumerate(head)) + 1
        if total > width:
            break
        shown.append(c)
    return shown, [c for c in candidates if c not in shown]


def _table(head: list[str], rows: list[list[str]], *, title: str | None = None, text_cols=(1, 2)) -> "object":
    from rich import box
    from rich.table import Table

    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for i, h in enumerate(head):
        t.add_column(h, justify="left" if i in text_cols else "right", no_wrap=True, overflow="ellipsis")
    for row in rows:
        t.add_row(*row)
    return t


def render_terminal(r: Report, *, wide: bool = False, width: int = WIDTH) -> str:
    """The terminal leaderboard of report ``r`` as text (no colour codes), at most ``width`` columns
    unless ``wide``."""
    from rich.console import Console

    primary = primary_metric(r.metrics)
    cols = metric_columns(r.df, r.metrics)
    if primary not in cols:
        primary = cols[0] if cols else None
    ranking = rank(r.df, r.overall, r.metrics, primary)
    candidates = [c for c in cols if c != primary]
    if wide:
        secondary, left_out = candidates, []
    else:
        secondary, left_out = _fit(r, ranking, candidates, width)
    buf = io.StringIO()
    console = Console(file=buf, width=100_000 if wide else width, color_system=None, highlight=False,
                      emoji=False, legacy_windows=False)
    console.print(f"{r.title} · {r.subtitle()}")
    head, rows = ranked_rows(r, ranking, secondary)
    console.print(_table(head, rows))
    choice, why = ranking.choice()
    legend = "★ measurably best   = not measurably different from #1   ▼ measurably worse than #1"
    console.print(legend)
    if choice is not None:
        console.print(f"Best: {choice.pipeline} ({why}).")
    if left_out:
        console.print(f"Not shown: {', '.join(left_out)}; `editbench report {r.out} --wide` shows every column, "
                      "leaderboard.md/.html have the full tables.")
    for col, ents in r.sweeps.items():
        if not primary:
            break
        axis = col.removeprefix("param.")
        values = sorted({e.key[col] for e in ents}, key=lambda v: (isinstance(v, str), v))
        pipes = sorted({e.pipeline for e in ents})
        cell = {(e.pipeline, e.key[col]): e.metrics.get(primary) for e in ents}
        srows = [[p, *[fmt_num(cell[(p, v)].mean) if cell.get((p, v)) is not None and cell[(p, v)].ok else "—"
                       for v in values]] for p in pipes]
        console.print(_table(["pipeline", *[f"{axis}={v}" for v in values]], srows,
                             title=f"{primary} by {axis} (task means)", text_cols=(0,)))
    if r.people is not None:
        console.print(terminal_section(r.people), end="", markup=False)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip().splitlines()) + "\n"

