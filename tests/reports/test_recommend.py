from typer.testing import CliRunner

from harness.cli import app
from harness.contract.results import read_results
from reports.recommend import qa_checklist


def test_recommendation_for_the_toy_run(toy_runs):
    res = CliRunner().invoke(app, ["report", "--recommend", str(toy_runs["base"])])
    assert res.exit_code == 0, res.stderr
    text = (toy_runs["base"] / "skill-editing-pipeline.md").read_text()
    assert "## Task kind: toy" in text
    # a winner only when measurably ahead of every other pipeline, else the tie-break names the pick
    head = next(ln for ln in text.splitlines() if ln.startswith("**"))
    if head.startswith("**No measurable winner"):
        assert "not measurably different" in head and "tie-break (faster, then simpler)" in head
    else:
        assert head.startswith("**Use `toy-repaint`**") and "measurably best" in head
    assert "'steps': 50" in text                                      # the pick's options
    assert "n = 4 tasks / 8 rows" in text
    assert "Best pipeline by mask_fraction" in text
    assert "### QA checklist" in text
    assert "- [ ] toy.wrong_cluster ≤ 0.05 fails" in text and "toy-mf0.8" in text


def test_qa_checklist_checks_and_unchecks(toy_runs):
    df = read_results(toy_runs["base"])
    easy = df[df["task_id"] == "toy-mf0.2"]
    items = qa_checklist(easy, {"toy.wrong_cluster": ("max", 0.05, "x")})
    assert items == ["- [x] toy.wrong_cluster ≤ 0.05 holds on all 4 rows."]
    items = qa_checklist(easy, {"toy.wrong_cluster": ("max", -1.0, "advice")})
    assert items[0].startswith("- [ ] toy.wrong_cluster ≤ -1 fails on 4/4 rows") and items[0].endswith("advice.")
