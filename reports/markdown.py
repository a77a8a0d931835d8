"""Escaping user text (suite names, task ids, pipeline labels, advice, paths) for the Markdown files
editbench writes (leaderboard.md, gate.md, history.md, skill-editing-pipeline.md).

Markdown passes raw HTML through, so ``<script>`` or ``<img onerror=...>`` in a suite's text would run
in a viewer that renders it. :func:`md` turns ``& < >`` into entities, escapes the characters that
would end a table cell, a code span or start a link target (``|``, backquote, ``](``), and joins lines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.format import fmt

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def md(text: object) -> str:
    """``text`` as inert Markdown inline text (one line)."""
    s = "".join(_ENTITIES.get(c, c) for c in str(text))
    s = s.replace("|", "\\|").replace("`", "\\`").replace("](", "]\\(")
    return " ".join(s.splitlines())


def code(text: object) -> str:
    """``text`` as a one-line Markdown code span (HTML is not rendered inside one; a backquote would end it)."""
    return "`" + " ".join(str(text).replace("`", "'").splitlines()) + "`"


def _md_cell(text: str) -> str:
    return md(text)


def format_markdown(head: "list[str] | pd.DataFrame", rows: list[list[str]] | None = None) -> str:
    """A Markdown table from a header and cell rows (or from a DataFrame, numbers to 4 significant digits)."""
    if isinstance(head, pd.DataFrame):
        rows = [[fmt(v) if isinstance(v, (float, np.floating)) else str(v) for v in r] for r in head.itertuples(index=False)]
        head = [str(c) for c in head.columns]
    lines = ["| " + " | ".join(_md_cell(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
