"""Every missing weight of a run at once, before any work: one list grouped by model, each naming the
pipelines and scorers that need it and the option that runs without it.

A check stops at the first missing file of one component (:meth:`Pipeline.check`, :meth:`Scorer.check`); this
module runs every component's check, so a run that needs four weight sets says so the first time instead of
revealing one per attempt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.contract.spec import PipelineSpec
from harness.core.errors import WeightsNotFound
from harness.pipelines.base import build_pipeline
from scorers.base import get_scorer_class

_MODEL = re.compile(r"weights for (?:mask generator )?(\S+?)[: ]")


@dataclass
class Missing:
    """One model's missing weights: what was expected, and who needs them."""

    model: str
    message: str                  # what was expected (without "weights for MODEL not found: ")
    full: str = ""                # the component's own sentence
    pipelines: list[str] = field(default_factory=list)
    scorers: list[str] = field(default_factory=list)


def _model_of(e: WeightsNotFound) -> str:
    if getattr(e, "model", None):
        return e.model
    m = _MODEL.search(str(e))
    return m.group(1) if m else str(e)


def check_weights(pipelines: list[PipelineSpec], scorers: list[str], scorer_options: dict[str, dict], *,
                  weights: bool = True) -> list[dict]:
    """Run every pipeline's and scorer's ``check()``; returns the pipelines' ``describe()`` records. Raises one
    WeightsNotFound listing every missing model (grouped) with the option that avoids each; any other error
    of a component (unknown name, bad options) is raised as it comes."""
    configs, missing = [], {}
    if not weights:   # names and options only
        for s in scorers:
            get_scorer_class(s)(**scorer_options.get(s, {}))
        return [build_pipeline(p).describe() for p in pipelines]

    def note(e: WeightsNotFound, *, pipeline: str | None = None, scorer: str | None = None) -> None:
        model = _model_of(e)
        text = str(e).rstrip(".").removeprefix(f"weights for {model} not found: ")
        m = missing.setdefault(model, Missing(model=model, message=text, full=str(e).rstrip(".")))
        (m.pipelines if pipeline else m.scorers).append(pipeline or scorer)

    for p in pipelines:
        adapter = build_pipeline(p)       # unknown name or bad options -> EditbenchError
        try:
            adapter.check()               # missing weights -> noted, the others checked too
        except WeightsNotFound as e:
            note(e, pipeline=p.key)
        configs.append(adapter.describe())
    for s in scorers:
        scorer = get_scorer_class(s)(**scorer_options.get(s, {}))
        try:
            scorer.check()
        except WeightsNotFound as e:
            note(e, scorer=s)
    if missing:
        raise WeightsNotFound(missing_message(list(missing.values()), pipelines=[p.key for p in pipelines],
                                              scorers=scorers))
    return configs


def missing_message(missing: list[Missing], *, pipelines: list[str], scorers: list[str]) -> str:
    """One sentence for one missing model; else one line per model, then the options that run without them."""
    def who(m: Missing) -> str:
        return ", ".join([f"pipeline {p}" for p in m.pipelines] + [f"scorer {s}" for s in m.scorers])

    lines = [f"weights missing for {len(missing)} models (nothing was run):"]
    lines += [f"  - {m.model}: {m.message}; needed by {who(m)}" for m in missing]
    bad_p = {p for m in missing for p in m.pipelines}
    bad_s = {s for m in missing for s in m.scorers}
    avoid = []
    if bad_p:
        keep = [p for p in pipelines if p not in bad_p]
        avoid.append(f"--pipelines {','.join(keep)}" if keep else "other --pipelines")
    if bad_s:
        keep = [s for s in scorers if s not in bad_s]
        avoid.append(f"--scorers {','.join(keep)}" if keep else "other --scorers")
    if len(missing) == 1:
        m = missing[0]
        return (f"{m.full}; needed by {who(m)} (nothing was run); to run without it: {' '.join(avoid)}, or put the "
                "weights where expected (docs/weights.md).")
    lines.append(f"  to run without them: {' '.join(avoid)}; or put the weights where expected (docs/weights.md)")
    return "\n".join(lines)
