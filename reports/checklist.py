"""The QA checklist of one produced edit (``editbench score``): each scorer's metrics against the
recommendation's thresholds (:data:`reports.recommend.THRESHOLDS`), a line per metric, pass or fail."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.core.imageio import load_image
from harness.pipelines.base import Output
from reports.recommend import THRESHOLDS
from scorers.base import get_scorer_class
from tasks.schema import Task


@dataclass(frozen=True)
class Check:
    """One line of the checklist: a metric's value and, where the metric has a threshold, the verdict."""

    column: str
    value: float | None = None
    op: str | None = None          # "max" | "min" where a threshold applies
    limit: float | None = None
    advice: str = ""
    note: str = ""                 # why the scorer was not applied

    @property
    def failed(self) -> bool:
        if self.op is None or self.value is None:
            return False
        return not (self.value <= self.limit if self.op == "max" else self.value >= self.limit)

    def line(self) -> str:
        if self.note:
            return f"- {self.column}: {self.note}"
        if self.op is None:
            return f"- {self.column} = {self.value:.4g}"
        return (f"- [{' ' if self.failed else 'x'}] {self.column} = {self.value:.4g} "
                f"({'≤' if self.op == 'max' else '≥'} {self.limit:g})" + (f": {self.advice}" if self.failed else ""))


def check_edit(source: Path, output: Path, *, mask: Path | None, scorers: list[str]) -> list[Check]:
    """Score the edit ``output`` of ``source`` (regenerating ``mask`` when given) with each scorer."""
    task = Task(task_id="edit", kind="inpaint" if mask else "instruct", image=str(source),
                mask=str(mask) if mask else None, instruction="" if mask else "edit")
    result = Output(image=load_image(output))
    checks = []
    for name in scorers:
        scorer = get_scorer_class(name)()
        scorer.check()
        if not scorer.applies_to(task) or (scorer.needs_mask and task.mask is None):
            checks.append(Check(name, note="not applicable without a mask"))
            continue
        scorer.load()
        for metric, value in scorer.score(task, result).items():
            col = f"{name}.{metric}"
            if col in THRESHOLDS:
                op, limit, advice = THRESHOLDS[col]
                checks.append(Check(col, value, op, limit, advice))
            else:
                checks.append(Check(col, value))
    return checks
