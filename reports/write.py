"""Every artefact of ``editbench report``: leaderboard.md, leaderboard.html with its task pages, results.json.

The top of the reports layer: it builds one :class:`reports.leaderboard.Report` and hands it to each renderer.
"""

from __future__ import annotations

from pathlib import Path

from harness.core.storage import atomic_write_text
from reports.edits_html import write_pages
from reports.html import CSS, _load_suite, render_html
from reports.leaderboard import Report, build_report, render_markdown
from reports.ranking import ranked_order, report_ranking, simple_pipelines
from reports.ranking import to_json as ranking_json
from reports.summary import write_results_json
from reports.terminal import ranking_markdown
from reports.views import view_of


def write_report(out: str | Path, *, html: bool = True, report: Report | None = None) -> str:
    """Build the leaderboard of run directory ``out`` (or use ``report``); write leaderboard.md (and
    .html); return the Markdown."""
    r = report if report is not None else build_report(out)
    text = render_markdown(r, head=ranking_markdown(r), order=ranked_order(r))   # the ranking first
    atomic_write_text(r.out / "leaderboard.md", text, root=r.out)
    write_results_json(r.out, meta=r.meta, df=r.df, ranking=ranking_json(report_ranking(r), simple_pipelines(r.meta)))
    if html:
        atomic_write_text(r.out / "leaderboard.html", render_html(r), root=r.out)
        if all(view_of(k).edit_pages for k in set(r.df["kind"].dropna())):
            write_pages(r, _load_suite(r.meta), CSS)
    return text
