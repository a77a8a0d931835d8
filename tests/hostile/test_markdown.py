"""User text (suite names, pipeline labels, task ids, advice) is inert in every Markdown file written."""

from __future__ import annotations

import json
import re

from reports.markdown import code, md
from tests.hostile.helpers import fake_run, row

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def _assert_inert(text: str) -> None:
    """No raw HTML or link target outside code spans (whose content Markdown shows literally)."""
    outside = re.sub(r"(?<!\\)`[^`\n]*`", "", text)
    assert "<script" not in outside and "<img" not in outside and "](javascript:" not in outside


def test_md_escapes_html_tables_and_links():
    assert md(SCRIPT) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert md("a|b\nc") == "a\\|b c"
    assert md("[x](javascript:alert(1))") == "[x]\\(javascript:alert(1))"
    assert code("a`b") == "`a'b`"


def _hostile_run(tmp_path, name="cand"):
    rows = [row("t1", pipeline=IMG, weights="real", **{"latency.total_ms": 1.0, "param.edit": SCRIPT}),
            row("t2", pipeline=IMG, weights="real", status="error", error=SCRIPT,
                **{"latency.total_ms": 2.0, "param.edit": SCRIPT})]
    out = fake_run(tmp_path / name, rows)
    meta = json.loads((out / "run.json").read_text())
    meta["suite"] = {"name": SCRIPT, "version": IMG, "hash": "h"}
    meta["pipelines"] = [{"name": "toy-naive", "label": IMG, "options": {}, "weights": None}]
    (out / "run.json").write_text(json.dumps(meta))
    return out


def test_leaderboard_md_is_inert(tmp_path):
    from reports.write import write_report

    out = _hostile_run(tmp_path)
    write_report(out, html=True)
    _assert_inert((out / "leaderboard.md").read_text())
    assert "&lt;script&gt;" in (out / "leaderboard.md").read_text()


def test_gate_md_is_inert(tmp_path):
    from reports.gate import gate, to_markdown

    base = _hostile_run(tmp_path, "base")
    cand = _hostile_run(tmp_path, "cand")
    _assert_inert(to_markdown(gate(base, cand)))


def test_skill_file_is_inert(tmp_path):
    from reports.recommend import write_recommendation

    out = _hostile_run(tmp_path)
    th = tmp_path / "th.yaml"
    th.write_text(f"latency.total_ms: {{max: 0.5, advice: '{IMG}'}}\n")
    text = write_recommendation(out, metric="latency.total_ms", thresholds=th)
    assert "onerror" in text and "fails on" in text   # the hostile label and advice are in the file, inert
    _assert_inert(text)
