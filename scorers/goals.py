"""What a suite's tasks ask for (its goal), which metric can rank it, and what no edit may break.

The primary metric is chosen from the goal of the suite's tasks, never from whatever columns happen
to exist. :data:`GOALS` maps each goal to the columns that measure it, best first; the first one the
run produces is the primary. When none is produced the suite is *not rankable*: the reason is written
to run.json (``goal``), every report says "not rankable: <why>" and the gate refuses to gate it. There
is no fallback to a metric that measures something else (e.g. PSNR for reconstruction, which a blur
raises, or the seam score for a face whose identity was lost).

Goals of a task (:func:`task_goal`): ``inpaint`` with a ``target`` is *reconstruction*, ``inpaint``
without one is *removal*; every other task kind is its own goal. A suite's goal is the goal of most of
its tasks.

:data:`GUARDRAILS` are per-row checks that no primary can hide: the kept region (background
preservation), the output's geometry and, in face tasks, the face being there at all. A pipeline that
fails a guardrail on some row is not ranked best (:mod:`reports.ranking`), and the gate fails a
candidate that fails a guardrail where the baseline passed (:mod:`reports.gate`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

# The reconstruction reference metric (used when LPIPS weights are missing): a column that agrees with a
# careful eye on real photos with a ground truth. Never fidelity.psnr (a blurred fill raises it).
# fidelity.texture (texture distance of the fill to the truth's fill): 18/20 clear eye-labelled pairs,
# 10/10 PatchMatch over its own blur; blind to content copied from elsewhere (docs/metrics.md).
RECONSTRUCTION_REFERENCE: tuple[str, ...] = ("fidelity.texture",)

# goal -> columns that measure it, best first. One line adds a column.
GOALS: dict[str, tuple[str, ...]] = {
    "toy": ("toy.energy_distance", "toy.wrong_cluster"),
    "removal": ("texture.score",),
    "reconstruction": ("lpips.distance", *RECONSTRUCTION_REFERENCE),
    "outpaint": ("seam.score",),
    "face_regen": ("identity.cosine",),
    "sdedit": ("judge.overall", "judge_imgedit.overall", "clip.score"),
    "instruct": ("judge.overall", "judge_imgedit.overall", "clip.score"),
}

# goal -> columns gated with the primary as its companions (they see what the primary is blind to).
COMPANIONS: dict[str, tuple[str, ...]] = {
    "removal": ("removal.survival",),
}

# What is missing when a goal has no column: the scorer (and weights) that would measure it.
NEEDS: dict[str, str] = {
    "toy": "the toy scorer",
    "removal": "the texture scorer",
    "reconstruction": "LPIPS weights (scorer lpips) or a reconstruction reference metric",
    "outpaint": "the seam scorer",
    "face_regen": "identity weights (scorer identity)",
    "sdedit": "a judge (scorer judge) or CLIP weights (scorer clip)",
    "instruct": "a judge (scorer judge) or CLIP weights (scorer clip)",
}


@dataclass(frozen=True)
class Guardrail:
    """A per-row check: ``column op value`` must hold on every ok row of the goals it applies to."""

    column: str
    op: str                              # "min": value >= threshold; "max": value <= threshold
    value: float
    what: str                            # what a failure means, in a few words
    goals: frozenset[str] | None = None  # None: every goal whose rows have the column

    def holds(self, v: float) -> bool:
        """True when ``v`` passes; NaN (not computed) counts as passing: the column says nothing."""
        if v != v:
            return True
        return v >= self.value if self.op == "min" else v <= self.value

    def describe(self) -> str:
        return f"{self.column} {'≥' if self.op == 'min' else '≤'} {self.value:g} ({self.what})"


# Background PSNR of 30 dB: a JPEG-90 round trip of the whole frame stays above it; a blocky or regenerated
# background (patchmatch at 96 px: 26 dB) falls below. Geometry is checked by the runner (an output of the
# wrong size is an error row). Face presence: the identity scorer's detector found the face.
GUARDRAILS: tuple[Guardrail, ...] = (
    Guardrail("background.psnr", "min", 30.0, "kept region changed"),
    Guardrail("identity.detected", "min", 0.5, "no face in the output", frozenset({"face_regen"})),
)


def task_goal(kind: str, *, has_target: bool = False) -> str:
    """The goal of one task: reconstruction / removal for inpaint tasks, else the task kind."""
    if kind == "inpaint":
        return "reconstruction" if has_target else "removal"
    return kind


def suite_goal(goals: Iterable[str]) -> str | None:
    """The goal of most tasks (ties: alphabetical); None for no tasks."""
    counts = Counter(goals)
    if not counts:
        return None
    return max(sorted(counts), key=lambda g: counts[g])


@dataclass(frozen=True)
class PrimaryChoice:
    goal: str | None
    metric: str | None                  # None: not rankable
    why: str                            # how it was chosen, or why nothing can rank the suite
    companions: tuple[str, ...] = ()

    @property
    def rankable(self) -> bool:
        return self.metric is not None

    def to_json(self) -> dict:
        return {"name": self.goal, "primary": self.metric, "why": self.why, "companions": list(self.companions)}


def choose(columns: Iterable[str], goal: str | None, declared: str | None = None) -> PrimaryChoice:
    """The primary for a run with metric ``columns`` whose tasks have ``goal``.

    ``declared`` (a suite's or run spec's ``primary:``) wins. Otherwise the first column of
    ``GOALS[goal]`` present; none present: not rankable, with the reason.
    """
    cols = set(columns)
    companions = tuple(c for c in COMPANIONS.get(goal or "", ()) if c in cols)
    if declared:
        return PrimaryChoice(goal, declared, f"declared primary: {declared}", companions)
    if goal is None:
        return PrimaryChoice(None, None, "the suite has no tasks")
    candidates = GOALS.get(goal, ())
    for c in candidates:
        if c in cols:
            return PrimaryChoice(goal, c, f"{c} measures the {goal} goal", companions)
    listed = ", ".join(candidates) if candidates else "none is registered"
    return PrimaryChoice(goal, None, f"no metric that measures the {goal} goal was computed (candidates: {listed}; "
                                     f"needs {NEEDS.get(goal, 'a scorer for it')})", companions)


def guardrails_for(goal: str | None, columns: Iterable[str]) -> list[Guardrail]:
    """The guardrails that apply to a suite of ``goal`` with these columns."""
    cols = set(columns)
    return [g for g in GUARDRAILS if g.column in cols and (g.goals is None or goal in g.goals)]
