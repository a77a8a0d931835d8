"""The leaderboard as a person reads it in a terminal: one compact ranked table (rich), 120 columns.

Pipelines are in the order of :func:`reports.ranking.run_ranking` (the one ranking of every report) with
the primary metric's CI; ★ marks a winner (measurably better than every other pipeline), ``=`` a
pipeline not measurably different from #1, ``▼`` one measurably worse, ``✗`` one failing a guardrail.
Then as many secondary metric means as fit in the width, the ok/error/timeout counts and the median
latency. A note names what was left out (``--wide`` shows everything; the full
tables are in leaderboard.md/.html). Each declared sweep axis gets a compact table of the primary metric.
"""

from __future__ import annotations

import io

from reports.arena_report import terminal_section
from reports.format import fmt_estimate, fmt_ms, fmt_num
from reports.leaderboard import Report
from reports.markdown import format_markdown, md
from reports.ranking import LEGEND, Ranking, median_latency, report_ranking, simple_pipelines
from reports.rows import metric_columns
from scorers.columns import direction

WIDTH = 120
ARROW = {"higher": "↑", "lower": "↓", "none": ""}


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
        cells = [str(i + 1), ranking.mark(i), e.pipeline, fmt_estimate(e.metrics[m])]
        cells += [_secondary(e, c) for c in secondary]
        cells += [f"{e.counts['ok']}/{e.counts['error']}/{e.counts['timeout']}", fmt_ms(x.p50_ms)]
        rows.append(cells)
    for e in ranking.unranked:
        why = "random weights" if e.random_only else ("not rankable" if ranking.not_rankable else "no value")
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

    cols = metric_columns(r.df, r.metrics)
    ranking = report_ranking(r)
    primary = ranking.metric
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
    console.print(LEGEND.replace(" · ", "   "))
    console.print(ranking.sentence(simple_pipelines(r.meta)))
    note = ranking.cannot_detect()
    if note:
        console.print(f"What it cannot detect: {note}")
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



def ranking_markdown(r: Report) -> list[str]:
    """leaderboard.md's opening: the ranking table, the one sentence, the legend and what the suite
    cannot detect (a postable summary; the full tables follow)."""
    ranking = report_ranking(r)
    cols = metric_columns(r.df, r.metrics)
    head, rows = ranked_rows(r, ranking, [c for c in cols if c != ranking.metric])
    out = ["## Ranking", "", f"**{md(ranking.sentence(simple_pipelines(r.meta)))}**", ""]
    note = ranking.cannot_detect()
    if note:
        out += [f"> What it cannot detect: {md(note)}", ""]
    return out + [format_markdown(head, rows), "", md(LEGEND)]
