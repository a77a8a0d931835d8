"""The scorer interface and the scorer registry.

A scorer turns (task, output) into floats: ``score(task, output) -> {metric: value}``. Results
are stored as columns named ``<scorer>.<metric>``; a metric that could not be computed is NaN.
Each scorer declares its metrics with their direction and the weights it needs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.core.errors import EditbenchError, format_validation_error
from harness.core.registry import Registry
from tasks.schema import Task

Direction = Literal["higher", "lower", "none"]
Role = Literal["quality", "latency", "cost", "provenance"]


@dataclass(frozen=True)
class Metric:
    """What one metric column means; written into run.json so reports read a run by its own rules.

    ``direction``: which way is better ("none" for provenance flags, which are never ranked or gated).
    ``role``: quality | latency | cost | provenance. ``range``: (low, high) of the values, None = open.
    ``unit``: e.g. "dB", "ms", "" (dimensionless). ``version``: bumped whenever the definition changes,
    so a gate never compares two different definitions under one name.
    """

    direction: Direction
    role: Role = "quality"
    range: tuple[float | None, float | None] = (None, None)
    unit: str = ""
    version: int = 1

    def __post_init__(self):
        if (self.direction == "none") != (self.role == "provenance"):
            raise ValueError("a metric has direction 'none' exactly when its role is 'provenance'")

    def to_json(self, scorer: str) -> dict:
        d = asdict(self)
        d["range"] = list(self.range)
        return {"scorer": scorer, **d}


class Scorer:
    """Base class. Subclasses set ``name``, ``metrics`` ({metric: Metric}) and ``kinds``."""

    name: ClassVar[str]
    metrics: ClassVar[dict[str, Metric]]
    kinds: ClassVar[frozenset[str] | None] = None   # task kinds it applies to; None = all
    needs_mask: ClassVar[bool] = False               # compares inside/outside the task's mask: none, no score
    weights: ClassVar[tuple[str, ...]] = ()          # weight files/folders it needs (documentation + `list`)

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, **options: Any):
        try:
            self.options = self.Options(**options)
        except ValidationError as e:
            raise EditbenchError(format_validation_error(e, where=f"options of scorer {self.name}")) from None

    def check(self) -> None:
        """Validate before any work starts (weights present where expected); must not load models."""

    def load(self) -> None:
        """Load models. Called once per actor before the first ``score``."""

    def describe(self) -> dict[str, dict]:
        """Extra run.json ``metrics`` fields per column of this configured scorer (e.g. the backend, model
        file and sha256 it computes with); called in the driver after :meth:`check`, must not load models."""
        return {}

    def applies_to(self, task: Task) -> bool:
        return self.kinds is None or task.kind in self.kinds

    def score(self, task: Task, output) -> dict[str, float]:  # pragma: no cover - interface
        raise NotImplementedError

    def score_batch(self, tasks: Sequence, outputs: Sequence) -> list[dict[str, float]]:
        """Score many (task, output) pairs; override to batch model calls."""
        return [self.score(t, o) for t, o in zip(tasks, outputs)]

    def score_rows(self, tasks: Sequence, outputs: Sequence) -> list[tuple[dict[str, float], dict[str, Any]]]:
        """(metrics, evidence columns) per pair; evidence (scalars named by :meth:`evidence_columns`, e.g.
        a judge's raw answer) is stored beside the row, never in a metric column."""
        return [(v, {}) for v in self.score_batch(tasks, outputs)]

    def evidence_columns(self) -> tuple[str, ...]:
        """Non-metric row columns this scorer writes (none by default)."""
        return ()

    def pins(self) -> dict:
        """What run.json records with this scorer's metrics and a gate requires equal (a judge's model
        and protocol version); {} for scorers defined by their code alone."""
        return {}

    def signature(self) -> str:
        """Identifies what this scorer computes with its options (rescoring skips rows scored with the
        same signature)."""
        doc = {"name": self.name, "versions": {m: d.version for m, d in self.metrics.items()},
               "options": self.options.model_dump(mode="json")}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @classmethod
    def columns(cls) -> dict[str, Metric]:
        """Result columns this scorer fills, with their meaning."""
        return {f"{cls.name}.{m}": d for m, d in cls.metrics.items()}


# Every scorer, registered in one line: name -> "module:Class" (imported on first use).
SCORERS: Registry[type[Scorer]] = Registry("scorer", group="editbench.scorers", entries={
    "toy": "scorers.toy:ToyScorer",
    "latency": "scorers.latency:LatencyScorer",
    "cost": "scorers.cost:CostScorer",
    "pose": "scorers.pose:PoseScorer",
    "identity": "scorers.identity:IdentityScorer",
    "face_pose": "scorers.face_pose:FacePoseScorer",
    "hand_pose": "scorers.hand_pose:HandPoseScorer",
    "seam": "scorers.seam:SeamScorer",
    "texture": "scorers.texture:TextureScorer",
    "background": "scorers.background:BackgroundScorer",
    "clip": "scorers.clip:ClipScorer",
    "fidelity": "scorers.fidelity:FidelityScorer",
    "lpips": "scorers.perceptual:LpipsScorer",
    "subject": "scorers.subject:SubjectScorer",
    "mask_iou": "scorers.subject:MaskIouScorer",
    "pie": "scorers.pie:PieScorer",
    "brushbench": "scorers.brushbench:BrushBenchScorer",
    "magicbrush": "scorers.magicbrush:MagicBrushScorer",
    "judge": "scorers.judge:JudgeScorer",
    "judge_imgedit": "scorers.judge:ImgEditJudgeScorer",
})


def scorer_names() -> list[str]:
    return SCORERS.names()


def get_scorer_class(name: str) -> type[Scorer]:
    return SCORERS.get(name)


def registry_metrics() -> dict[str, dict]:
    """run.json ``metrics`` entries of every registered scorer's columns, as the code defines them today.

    Reports read a run's own ``metrics`` record (:mod:`scorers.columns`); this is the fallback for runs
    written before runs carried one, and the source the runner writes from.
    """
    out: dict[str, dict] = {}
    for cls in SCORERS.values():
        out.update({col: m.to_json(cls.name) for col, m in cls.columns().items()})
    return out


def metric_directions() -> dict[str, Direction]:
    """Direction of every known metric column in today's registry, e.g. {"toy.wrong_cluster": "lower"}."""
    return {col: m["direction"] for col, m in registry_metrics().items()}
