"""What an arena shows: the votable pairs of one or more finished runs, and which pair to show next.

An item is (task_id, seed, two pipelines): two ok rows of the same task and seed, real or trained
weights, with an image output inside their run. Pipelines from several runs of the same suite pool
together (a pipeline name may appear in only one of them). :func:`next_item` balances the votes over
pipeline pairs and tasks: it picks the item of the pipeline pair with the fewest votes so far, then
(with ``prefer_disagreement``) the one on which the run's quality metrics disagree most, then the task
least often shown with that pair, then the task with the fewest votes, then at random; a rater never
sees an item they already judged.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Sequence

import pandas as pd

from harness.contract.results import load_run
from harness.contract.votes import Vote
from harness.core.errors import EditbenchError
from harness.core.storage import confined
from reports.rows import metric_columns
from scorers.columns import direction, read_metrics, role

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class Row:
    """One output an arena can show."""

    run_dir: Path
    run_id: str | None
    output: Path                      # confined to run_dir
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    task_id: str
    seed: int
    a: str                            # pipelines in name order
    b: str
    disagreement: float = 0.0         # 0: the quality metrics agree on which is better; 1: split evenly

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.task_id, self.seed, self.a, self.b)


@dataclass
class Pool:
    """Votable rows of the runs: ``rows[(task_id, seed, pipeline)]``, the items, each run's metadata."""

    runs: list[Path]
    metas: list[dict]
    rows: dict[tuple[str, int, str], Row]
    items: list[Item]
    directions: dict[str, str]        # quality metric -> higher | lower


def quality_metrics(df: pd.DataFrame, record: dict[str, dict]) -> list[str]:
    """The run's ranked quality-role metric columns holding a value."""
    return [c for c in metric_columns(df, record) if role(record, c) == "quality"]


def disagreement(x: dict[str, float], y: dict[str, float], directions: dict[str, str]) -> float:
    """How evenly the metrics split on which of two rows is better: 2 * min(k, n - k) / n over the n
    metrics with a finite, different value on both rows (0 with fewer than two such metrics)."""
    prefs = []
    for m, d in directions.items():
        a, b = x.get(m, math.nan), y.get(m, math.nan)
        if math.isfinite(a) and math.isfinite(b) and a != b:
            prefs.append((a > b) == (d == "higher"))
    if len(prefs) < 2:
        return 0.0
    k = sum(prefs)
    return 2 * min(k, len(prefs) - k) / len(prefs)


def load_pool(runs: Sequence[str | Path]) -> Pool:
    """The votable rows and items of ``runs`` (local run directories of one suite)."""
    runs = [Path(r) for r in runs]
    rows: dict[tuple[str, int, str], Row] = {}
    owner: dict[str, Path] = {}
    metas, directions = [], {}
    suite = None
    for run in runs:
        meta, df = load_run(run)
        metas.append(meta)
        name = (meta.get("suite") or {}).get("name")
        if suite is not None and name != suite:
            raise EditbenchError(f"{run} is a run of suite {name!r}, not {suite!r}: an arena compares outputs of "
                                 "the same tasks.")
        suite = name
        record = read_metrics(run, meta, df.columns)
        qual = quality_metrics(df, record)
        directions.update({m: direction(record, m) for m in qual})
        ok = df[(df["status"] == "ok") & df["output_path"].notna()]
        if "weights" in ok.columns:
            ok = ok[ok["weights"] != "random"]
        for p in sorted(ok["pipeline"].unique()):
            if p in owner and owner[p] != run:
                raise EditbenchError(f"pipeline {p!r} appears in both {owner[p]} and {run}; give runs whose "
                                     "pipelines differ.")
            owner[p] = run
        for r in ok.to_dict("records"):
            rel = str(r["output_path"])
            if not rel.lower().endswith(IMAGE_SUFFIXES):
                continue
            path = confined(run, rel)          # a row naming a file outside its run is refused
            if not path.is_file():
                continue
            values = {m: float(r[m]) if r[m] is not None else math.nan for m in qual}
            rows[(str(r["task_id"]), int(r["seed"]), str(r["pipeline"]))] = Row(run, meta.get("run_id"), path, values)
    by_task: dict[tuple[str, int], list[str]] = {}
    for (t, s, p) in rows:
        by_task.setdefault((t, s), []).append(p)
    items = []
    for (t, s), ps in sorted(by_task.items()):
        for a, b in combinations(sorted(ps), 2):
            items.append(Item(t, s, a, b, disagreement(rows[(t, s, a)].metrics, rows[(t, s, b)].metrics, directions)))
    if not items:
        raise EditbenchError(f"{', '.join(map(str, runs))}: no task and seed has image outputs of two pipelines "
                             "(ok rows, real or trained weights) to compare.")
    return Pool(runs, metas, rows, items, directions)


def next_item(items: Sequence[Item], votes: Sequence[Vote], *, rater: str, rng: random.Random,
              prefer_disagreement: bool = False, exclude: frozenset = frozenset()) -> Item | None:
    """The item to show ``rater`` next (None when they judged them all); ``exclude``: item keys held back."""
    seen = {v.item for v in votes if v.rater == rater} | set(exclude)
    left = [it for it in items if it.key not in seen]
    if not left:
        return None
    pairs = Counter((v.item[2], v.item[3]) for v in votes)
    pair_tasks = Counter((v.item[2], v.item[3], v.task_id) for v in votes)
    tasks = Counter(v.task_id for v in votes)
    ties = {it.key: rng.random() for it in left}

    def rank(it: Item):
        d = -round(it.disagreement, 6) if prefer_disagreement else 0.0
        return (pairs[(it.a, it.b)], d, pair_tasks[(it.a, it.b, it.task_id)], tasks[it.task_id], ties[it.key])

    return min(left, key=rank)

