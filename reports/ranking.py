"""One ranking of a run's pipelines, shared by the terminal, leaderboard.md/.html, results.json, the
recommendation and the skill: every place that orders pipelines or says which is best calls
:func:`run_ranking` and prints :meth:`Ranking.sentence`, so none can contradict another.

The primary metric is the one the run recorded for its suite's goal (:mod:`scorers.goals`); when the run
has none the suite is *not rankable* and the sentence says why (never a fallback to another column). A
primary that has no finite value on any row is an error naming the metric and why.

Pipelines that pass every guardrail (:data:`scorers.goals.GUARDRAILS`) come first, ordered by the primary
(task mean, in its recorded direction); pipelines that fail a guardrail on some row follow, marked ✗, and
are never best. The first pipeline is compared with every other on the tasks (and seeds) both ran: the
paired, task-clustered difference CI of :func:`reports.stats.difference_ci_rows`. A pipeline whose CI
excludes 0 on the bad side is *measurably worse* (▼). The first is the **winner** (★) only when it is
measurably better than every other guardrail-passing pipeline; otherwise the top pipelines are *tied* (=)
and the sentence names the fastest of them (lower median latency, then the simpler pipeline — no weights
needed —, then the name) as "fastest", never as the one to use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports.format import fmt_ms
from reports.leaderboard import Entry
from reports.rows import is_latency_metric, metric_rows, not_warmup, value_rows
from reports.stats import Difference, detectable_shift, difference_ci_rows
from scorers.columns import direction, primary_choice
from scorers.goals import Guardrail, guardrails_for

MARK = {"winner": "★", "tied": "=", "worse": "▼", "guardrail": "✗", "none": " "}
LEGEND = ("★ measurably best · = not measurably different from #1 · ▼ measurably worse than #1 · "
          "✗ fails a guardrail (never best)")
SMALL_SUITE = 8          # fewer tasks than this: every report says what the suite cannot detect


@dataclass
class Ranked:
    entry: Entry
    diff: Difference | None = None     # this pipeline minus the first, on the primary metric (None: the first)
    worse: bool = False                # measurably worse than the first (the difference CI excludes 0)
    p50_ms: float = math.nan           # median latency_ms of non-warm-up ok rows
    guardrails: list[str] = field(default_factory=list)   # failed guardrails: "<rule> on k/n rows"

    @property
    def pipeline(self) -> str:
        return self.entry.pipeline


@dataclass
class Ranking:
    metric: str | None                 # the primary metric ranked by (None: not rankable)
    direction: str
    ranked: list[Ranked]               # guardrail-passing by the primary, then guardrail-failing
    unranked: list[Entry]              # random weights (quality) or no value of the metric
    not_rankable: str | None = None    # why nothing ranks this suite (no metric measures its goal; all NaN)
    n_tasks: int = 0
    error: str | None = None           # the primary is NaN on every measured row: `editbench report` exits 2

    @property
    def passing(self) -> list[Ranked]:
        return [r for r in self.ranked if not r.guardrails]

    @property
    def winner(self) -> Ranked | None:
        """The first pipeline when it passes every guardrail and is measurably better than every other
        guardrail-passing one (at least one other pipeline ranked), else None."""
        ok = self.passing
        if len(self.ranked) < 2 or not ok or ok[0] is not self.ranked[0]:
            return None
        if not all(r.worse for r in ok[1:]):
            return None
        return self.ranked[0]

    @property
    def tied(self) -> list[Ranked]:
        """The first guardrail-passing pipeline and the guardrail-passing ones not measurably worse."""
        ok = self.passing
        return [r for i, r in enumerate(ok) if i == 0 or not r.worse]

    def mark(self, i: int) -> str:
        r = self.ranked[i]
        if r.guardrails:
            return MARK["guardrail"]
        if len(self.ranked) < 2:
            return MARK["none"]
        if self.winner is not None and i == 0:
            return MARK["winner"]
        return MARK["worse"] if r.worse else MARK["tied"]

    def fastest(self, simple: set[str] = frozenset()) -> Ranked | None:
        """The fastest of the tied (median latency, then one of ``simple``, then by name)."""
        def key(r: Ranked):
            lat = r.p50_ms if math.isfinite(r.p50_ms) else math.inf
            return (lat, r.pipeline not in simple, r.pipeline)

        tied = self.tied
        return sorted(tied, key=key)[0] if tied else None

    @property
    def verdict(self) -> str:
        """best (a measurable winner or the only candidate) | tied | none (no pipeline can be named)."""
        if self.not_rankable or not self.passing:
            return "none"
        if self.winner is not None or len(self.passing) == 1:
            return "best"
        return "tied"

    def choice(self, simple: set[str] = frozenset()) -> tuple[Ranked | None, str]:
        """(pipeline, why): the best when there is one; in a tie the fastest of the tied (to be named as
        "fastest", never as the one to use: :attr:`verdict` is "tied"); None when none can be named."""
        if self.verdict == "none":
            return None, self.sentence(simple)
        if self.verdict == "best":
            return self.passing[0], self._best_reason()
        pick = self.fastest(simple)
        return pick, self.sentence(simple)

    def _best_reason(self) -> str:
        if len(self.ranked) == 1:
            return f"the only pipeline with a value of {self.metric}"
        if len(self.passing) == 1:
            return "the only pipeline that passes every guardrail"
        return f"measurably best on {self.metric} (better than every other pipeline)"

    def sentence(self, simple: set[str] = frozenset()) -> str:
        """The one "best" sentence every report prints (it never contradicts the table)."""
        if self.not_rankable:
            return f"Not rankable: {self.not_rankable}."
        if not self.ranked:
            return f"Not rankable: no pipeline has a value of {self.metric}."
        if not self.passing:
            head = "No pipeline is best: every pipeline fails a guardrail."
        elif self.verdict == "best":
            head = f"Best: {self.passing[0].pipeline} — {self._best_reason()}."
        else:
            fast = self.fastest(simple)
            names = ", ".join(r.pipeline for r in self.tied)
            head = (f"Tied: {names} are not measurably different on {self.metric}; no pipeline is measurably "
                    f"best. Fastest of them: {fast.pipeline} (median latency {fmt_ms(fast.p50_ms)}).")
        failing = [r for r in self.ranked if r.guardrails]
        if failing:
            head += " Not ranked best: " + "; ".join(f"{r.pipeline} fails {', '.join(r.guardrails)}"
                                                    for r in failing) + "."
        return head

    def cannot_detect(self, alpha: float = 0.025) -> str | None:
        """What a suite this small cannot detect (None at SMALL_SUITE tasks or more)."""
        if self.not_rankable or self.n_tasks >= SMALL_SUITE:
            return None
        sds = [r.diff.se * math.sqrt(r.diff.n_tasks) for r in self.ranked[1:]
               if r.diff is not None and math.isfinite(r.diff.se) and r.diff.n_tasks >= 2]
        text = (f"This suite has {self.n_tasks} task{'s' if self.n_tasks != 1 else ''} (under {SMALL_SUITE}): "
                "differences between pipelines smaller than the spread between tasks cannot be detected")
        if sds:
            mde = float(detectable_shift(float(np.median(sds)), self.n_tasks, alpha))
            if math.isfinite(mde):
                text += (f"; on {self.metric} only a difference of about {mde:.3g} or more is seen with 80 % "
                         "power (paired SD of the compared pipelines)")
        return text + "; add tasks before trusting a tie or a gate pass."


def median_latency(df: pd.DataFrame, pipeline: str) -> float:
    g = df[(df["pipeline"] == pipeline) & (df["status"] == "ok")]
    g = g[not_warmup(g)]
    v = g["latency_ms"].to_numpy(dtype=np.float64) if "latency_ms" in g else np.array([])
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def guardrail_failures(df: pd.DataFrame, pipeline: str, rails: list[Guardrail],
                       record: dict[str, dict]) -> list[str]:
    """The guardrails ``pipeline`` fails on some ok row of ``df``: "<rule> on k/n rows (tasks ...)"."""
    out = []
    g = df[df["pipeline"] == pipeline]
    for rail in rails:
        if rail.column not in g.columns:
            continue
        rows = metric_rows(g, rail.column, record)
        vals = rows[rail.column].to_numpy(dtype=np.float64)
        bad = ~np.array([rail.holds(v) for v in vals], dtype=bool)
        if bad.any():
            tasks = sorted(set(rows["task_id"].astype(str).to_numpy()[bad]))
            out.append(f"{rail.describe()} on {int(bad.sum())}/{len(vals)} rows (tasks {', '.join(tasks[:4])}"
                       f"{' …' if len(tasks) > 4 else ''})")
    return out


def rank(df: pd.DataFrame, entries: list[Entry], record: dict[str, dict], metric: str | None, *,
         rails: list[Guardrail] = (), not_rankable: str | None = None) -> Ranking:
    """Rank ``entries`` (one per pipeline, :func:`reports.leaderboard.entries`) by ``metric``, pipelines
    failing one of ``rails`` after those passing every one."""
    n_tasks = int(df["task_id"].nunique()) if len(df) else 0
    if metric is None or not_rankable:
        return Ranking(metric, "none", [], list(entries), not_rankable=not_rankable or "no primary metric",
                       n_tasks=n_tasks)
    d = direction(record, metric)
    sign = -1.0 if d == "higher" else 1.0
    usable, rest = [], []
    for e in entries:
        est = e.metrics.get(metric)
        hidden = e.random_only and not is_latency_metric(metric, record)
        (usable if est is not None and est.ok and not hidden else rest).append(e)
    ranked = [Ranked(e, p50_ms=median_latency(df, e.pipeline), guardrails=guardrail_failures(df, e.pipeline,
                                                                                              list(rails), record))
              for e in usable]
    ranked.sort(key=lambda r: (bool(r.guardrails), sign * r.entry.metrics[metric].mean, r.pipeline))
    if ranked:
        best = value_rows(df[df["pipeline"] == ranked[0].pipeline], metric, record)
        for r in ranked[1:]:
            diff = difference_ci_rows(best, value_rows(df[df["pipeline"] == r.pipeline], metric, record))
            r.diff = diff
            bad = diff.lo > 0 if d == "lower" else diff.hi < 0
            r.worse = bool(np.isfinite(diff.lo) and np.isfinite(diff.hi) and bad)
    return Ranking(metric, d, ranked, rest, n_tasks=n_tasks)


def all_nan_reason(df: pd.DataFrame, metric: str, record: dict[str, dict]) -> str | None:
    """Why ``metric`` has no finite value on any measured ok row of ``df`` (None when it has one, or when
    no row is measured: random weights only or no ok row, which the ranking reports as such)."""
    ok = df[df["status"] == "ok"] if len(df) else df
    measured = ok if is_latency_metric(metric, record) else ok[ok["weights"] != "random"]
    if measured.empty:
        return None
    if metric not in df.columns:
        return (f"primary metric {metric} is not a column of the rows (its scorer "
                f"{record.get(metric, {}).get('scorer', metric.split('.')[0])} did not run on these tasks)")
    vals = measured[metric].to_numpy(dtype=np.float64)
    if np.isfinite(vals).any():
        return None
    why = f"primary metric {metric} is NaN or infinite on every one of the {len(vals)} measured ok rows"
    errs = measured["score_error"].dropna().astype(str) if "score_error" in measured else pd.Series([], dtype=str)
    if len(errs):
        return why + f" (scorer error: {errs.iloc[0]})"
    return why + " (the scorer returned no value: it does not apply to these tasks or lacks their input)"


def run_ranking(df: pd.DataFrame, entries: list[Entry], record: dict[str, dict], meta: dict, *,
                metric: str | None = None) -> Ranking:
    """The ranking every report shows: the run's recorded primary (``metric`` overrides it, e.g. the
    recommendation's ``--metric``) and the guardrails of the run's goal."""
    choice = primary_choice(meta, record)
    m = metric or choice.metric
    if m is None:
        return rank(df, entries, record, None, not_rankable=choice.why or "no primary metric")
    nan = all_nan_reason(df, m, record)
    if nan is not None:
        out = rank(df, entries, record, None, not_rankable=nan)
        out.error = nan
        return out
    return rank(df, entries, record, m, rails=guardrails_for(choice.goal, df.columns))


def to_json(ranking: Ranking, simple: set[str] = frozenset()) -> dict:
    """The ranking as results.json carries it: order, marks, verdict and the one sentence."""
    return {
        "metric": ranking.metric, "direction": ranking.direction, "verdict": ranking.verdict,
        "sentence": ranking.sentence(simple), "not_rankable": ranking.not_rankable,
        "cannot_detect": ranking.cannot_detect(),
        "order": [{"rank": i + 1, "pipeline": r.pipeline, "mark": ranking.mark(i),
                   "mean": r.entry.metrics[ranking.metric].mean, "worse": r.worse, "guardrails": r.guardrails,
                   "p50_ms": r.p50_ms} for i, r in enumerate(ranking.ranked)],
        "unranked": [e.pipeline for e in ranking.unranked],
    }


def simple_pipelines(meta: dict) -> set[str]:
    """Labels of the run's pipelines that need no weights (the tie-break's "simpler")."""
    return {str(c.get("label") or c.get("name")) for c in meta.get("pipelines", [])
            if not c.get("weights_path") and not c.get("weights")}


def report_ranking(r) -> Ranking:
    """The ranking of a :class:`reports.leaderboard.Report` (computed once, kept on the report)."""
    cached = getattr(r, "_ranking", None)
    if cached is None:
        cached = run_ranking(r.df, r.overall, r.metrics, r.meta)
        r._ranking = cached
    return cached



def ranked_order(r) -> list[Entry]:
    """A report's overall entries in the order of its ranking (:func:`report_ranking`)."""
    ranking = report_ranking(r)
    order = [x.entry for x in ranking.ranked] + list(ranking.unranked)
    return order if len(order) == len(r.overall) else list(r.overall)
