"""Problems of a suite, each named by file, row and task_id, and the schema stage that collects them
(:func:`check_rows`, called by :func:`tasks.schema.load_suite`; the content stage is :mod:`tasks.validate`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from harness.core.errors import EditbenchError
from harness.core.storage import name_problem


@dataclass(frozen=True)
class Problem:
    """One problem of a suite: the file it is in, the row (``tasks[3]``, ``line 4``, ``row 3``; empty for
    the suite's own fields), the task_id when known, and what is wrong."""

    file: str
    row: str
    task_id: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f" {self.row}" if self.row else "")
        if self.task_id is not None:
            where += f" (task_id {self.task_id!r})"
        return f"{where}: {self.message}"


class SuiteInvalid(EditbenchError):
    """A suite with problems: one sentence for a single problem; for several, a first line and then
    every problem on a line of its own."""

    def __init__(self, suite: str, problems: list[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        if n == 1:
            super().__init__(f"suite {suite} is invalid, nothing was run: {self.problems[0]}")
            return
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"suite {suite} has {n} problems; nothing was run:\n{lines}")


def pydantic_problems(err, *, file: str, row: str, task_id: str | None) -> list[Problem]:
    """One :class:`Problem` per error of a pydantic ``ValidationError``, naming the field path."""
    out = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = {"missing": "required field is missing", "extra_forbidden": "unknown field"}.get(e["type"], e["msg"])
        out.append(Problem(file, row, task_id, f"{loc}: {msg}"))
    return out


def check_rows(rows: list[tuple[str, str, Any]], task_model, *, suite_name: str, context: dict | None = None):
    """Validate raw task rows ``(file, row, mapping)`` against ``task_model``.

    Returns ``(tasks, problems)``; every row is checked, and a repeated task_id is reported at each
    repetition with the row of its first use.
    """
    tasks: list[Any] = []
    problems: list[Problem] = []
    first: dict[str, tuple[str, str]] = {}
    for file, row, raw in rows:
        if not isinstance(raw, dict):
            problems.append(Problem(file, row, None, f"a task must be a mapping, not {type(raw).__name__}"))
            continue
        tid = raw.get("task_id")
        tid = str(tid) if tid is not None else None
        bad_id = name_problem(raw.get("task_id"), what="task_id") if "task_id" in raw else None
        if bad_id:
            problems.append(Problem(file, row, None, bad_id))
            continue
        try:
            task = task_model.model_validate({**raw, "suite": raw.get("suite") or suite_name}, context=context)
        except ValidationError as e:
            problems += pydantic_problems(e, file=file, row=row, task_id=tid)
            continue
        if task.task_id in first:
            f0, r0 = first[task.task_id]
            here = r0 if f0 == file else f"{f0} {r0}"
            problems.append(Problem(file, row, task.task_id, f"duplicate task_id (first used at {here})"))
            continue
        first[task.task_id] = (file, row)
        tasks.append(task)
    return tasks, problems
