"""The task contract, checked before any work: every override a task sets is honoured by every pipeline
scheduled to run that task, and every declared sweep axis is a parameter of the suite's tasks.

A task's ``overrides`` are instructions (``mask_dilate``, ``steps``, ``guidance``, ``strength``,
``outpaint``, ...): a pipeline honours one when it lists the name in its ``task_options`` and the value
passes its ``Options`` validation. A pipeline that cannot honour an override stops the whole run (exit 2)
with a sentence naming the suite file, row, task_id, pipeline and field. A pipeline whose task kinds do
not cover some tasks is not an error: it runs the tasks it can, and :func:`schedule` says how many it
skips (a pipeline that can run none of them is an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from harness.contract.spec import PipelineSpec
from harness.core.errors import EditbenchError
from harness.pipelines.base import get_pipeline_class
from tasks.validate import Problem, SuiteInvalid


@dataclass
class Coverage:
    """Which tasks each pipeline runs: pipeline key -> task ids it runs / skips (kind not supported)."""

    runs: dict[str, list[str]] = field(default_factory=dict)
    skips: dict[str, list[str]] = field(default_factory=dict)

    def notes(self) -> list[str]:
        """One line per pipeline that skips tasks, e.g. for stderr and run.json."""
        return [f"pipeline {p} runs {len(self.runs[p])} of {len(self.runs[p]) + len(s)} tasks; it skips {len(s)} "
                f"whose kind it cannot run" for p, s in self.skips.items() if s]


def check_overrides(suite, tasks: list, pipelines: list[PipelineSpec]) -> None:
    """Refuse (SuiteInvalid, every problem listed) an override some scheduled pipeline cannot honour."""
    index = {t.task_id: i for i, t in enumerate(suite.tasks)}
    problems: list[Problem] = []
    for t in tasks:
        if not t.overrides:
            continue
        file, row = suite.origin(index.get(t.task_id, 0))
        for p in pipelines:
            cls = get_pipeline_class(p.name)
            if t.kind not in cls.kinds:
                continue
            for name in sorted(set(t.overrides) - cls.task_options):
                problems.append(Problem(file, row, t.task_id, (
                    f"override {name!r} cannot be honoured by pipeline {p.key} ({p.name} takes "
                    f"{', '.join(sorted(cls.task_options)) or 'no overrides'} per task)")))
            fields = {k: v for k, v in t.overrides.items() if k in cls.Options.model_fields and k in cls.task_options}
            if not fields:
                continue
            try:
                cls.Options(**{**p.options, **fields})
            except ValidationError as e:
                for err in e.errors():
                    name = ".".join(str(x) for x in err["loc"])
                    problems.append(Problem(file, row, t.task_id, (
                        f"override {name} = {fields.get(str(err['loc'][0]))!r} is not valid for pipeline "
                        f"{p.key}: {err['msg']}")))
    if problems:
        raise SuiteInvalid(suite.name, problems)


def schedule(tasks: list, pipelines: list[PipelineSpec], *, suite: str = "") -> Coverage:
    """Which tasks each pipeline runs; raises when a pipeline can run none of them."""
    cov = Coverage()
    for p in pipelines:
        kinds = get_pipeline_class(p.name).kinds
        cov.runs[p.key] = [t.task_id for t in tasks if t.kind in kinds]
        cov.skips[p.key] = [t.task_id for t in tasks if t.kind not in kinds]
        if not cov.runs[p.key]:
            have = sorted({t.kind for t in tasks})
            raise EditbenchError(f"pipeline {p.key} cannot run any task of suite {suite} (it runs kinds "
                                 f"{sorted(kinds)}, the suite's tasks are {have}); remove it from the pipelines.")
    return cov


def check_sweep(suite, axes: list[str], *, grid_axes: list[str] = ()) -> None:
    """Every declared sweep axis names a task override or meta key (or a run-spec grid option)."""
    names = {k for t in suite.tasks for k in (*t.overrides, *t.meta)} | set(grid_axes)
    missing = [a for a in axes if a not in names]
    if missing:
        where = suite.source_path or f"suite {suite.name}"
        raise EditbenchError(f"{where}: sweep names {missing}, which no task sets as an override or meta value "
                             f"(the tasks set {sorted(names) or 'none'}).")
