"""Report writes are confined like every other write: unique temporary names created with O_EXCL, no
symbolic link followed under the run (report/ included), and links only to plain relative in-run paths."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.core.errors import EditbenchError
from tests.reports.helpers import image_run


def _set_output_path(run, task_id: str, pipeline: str, value: str) -> None:
    df = pd.concat([pd.read_parquet(f) for f in (run / "results").glob("*.parquet")], ignore_index=True)
    df.loc[(df["task_id"] == task_id) & (df["pipeline"] == pipeline) & (df["seed"] == 0), "output_path"] = value
    for f in (run / "results").glob("*.parquet"):
        f.unlink()
    df.to_parquet(run / "results" / "part-0.parquet", index=False)


def test_a_planted_temporary_name_link_does_not_overwrite_a_file_outside(tmp_path):
    from reports.write import write_report

    run = image_run(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (run / "report").mkdir(exist_ok=True)
    for name in ("report/tasks-001.html.tmp", ".leaderboard.html.tmp", ".results.json.tmp"):
        (run / name).symlink_to(victim)
    write_report(run)
    assert victim.read_text() == "keep me"
    assert (run / "report" / "tasks-001.html").is_file() and not (run / "report" / "tasks-001.html").is_symlink()


def test_a_report_folder_planted_as_a_link_is_refused_with_a_sentence(tmp_path):
    from reports.write import write_report

    run = image_run(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (run / "report").symlink_to(outside)
    with pytest.raises(EditbenchError, match="is a symbolic link; editbench writes nothing through links"):
        write_report(run)
    assert list(outside.iterdir()) == []
    (run / "report").unlink()
    (run / "leaderboard.html").unlink(missing_ok=True)
    (run / "leaderboard.html").symlink_to(tmp_path / "victim.html")
    with pytest.raises(EditbenchError, match="leaderboard.html is a symbolic link"):
        write_report(run)
    assert not (tmp_path / "victim.html").exists()


def test_a_javascript_output_path_never_becomes_a_link(tmp_path):
    from reports.write import write_report

    run = image_run(tmp_path)
    target = next((run / "outputs" / "good").glob("t0__s0.png"))
    (run / "javascript:alert(1)").mkdir()                 # so the path resolves inside the run
    _set_output_path(run, "t0", "good", f"javascript:alert(1)/../outputs/good/{target.name}")
    write_report(run)
    pages = [run / "leaderboard.html", *sorted((run / "report").glob("tasks-*.html"))]
    html = "".join(p.read_text() for p in pages)
    assert "javascript:alert" not in html.replace("output path javascript:alert(1)", "")
    assert 'href="javascript' not in html and "is not a plain relative path in the run: not read" in html


@pytest.mark.parametrize("rel, ok", [
    ("outputs/p/t__s0.png", True), ("outputs/sd[guidance=7.5]/t__s0.png", True),
    ("javascript:alert(1)//../outputs/x.png", False), ("JaVaScRiPt:x", False), ("data:text/html,x", False),
    ("/etc/passwd", False), ("../x.png", False), ("outputs/../../x", False), ("//evil.example/x", False),
    ("outputs\\x.png", False), ("outputs/x.png?a=1", False), ("", False), ("a\x00b", False),
])
def test_run_links_are_plain_relative_paths(rel, ok):
    from reports.edits_html import run_link

    assert (run_link(rel) is not None) is ok
