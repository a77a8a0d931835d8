"""Escaping user text (suite names, task ids, pipeline labels, advice, paths) for the Markdown files
editbench writes (leaderboard.md, gate.md, history.md, skill-editing-pipeline.md).

Markdown passes raw HTML through, so ``<script>`` or ``<img onerror=...>`` in a suite's text would run
in a viewer that renders it. :func:`md` turns ``& < >`` into entities, escapes the characters that
would end a table cell, a code span or start a link target (``|``, backquote, ``](``), and joins lines.
"""

from __future__ import annotations

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def md(text: object) -> str:
    """``text`` as inert Markdown inline text (one line)."""
    s = "".join(_ENTITIES.get(c, c) for c in str(text))
    s = s.replace("|", "\\|").replace("`", "\\`").replace("](", "]\\(")
    return " ".join(s.splitlines())


def code(text: object) -> str:
    """``text`` as a one-line Markdown code span (HTML is not rendered inside one; a backquote would end it)."""
    return "`" + " ".join(str(text).replace("`", "'").splitlines()) + "`"
