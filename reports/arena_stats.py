"""Statistics of pairwise human (or judge) votes: Bradley-Terry ratings with bootstrap intervals, the
"both bad" rate, inter-rater agreement, and the agreement of each automatic metric with the votes.

Bradley-Terry as GenAI-Arena (and Chatbot Arena's ``compute_mle_elo``) fit it: a logistic regression
without intercept on a design with ``+ln(base)`` in the column of the left pipeline and ``-ln(base)`` in
the right one's, ``rating = initial + scale * coefficient`` with scale 400, base 10, initial 1000, so a
400-point gap means 10:1 odds. A tie (and "both bad", which GenAI-Arena also counts as a tie) is half a
win for each side. A weak L2 penalty (:data:`RIDGE` on the coefficients, ~0.01 of one vote's
log-likelihood at a 400-point gap) keeps a pipeline that won every vote finite and fixes the ratings'
free constant: their mean is ``initial``. 95 % intervals: percentiles of 100 bootstrap fits over votes.

Inter-rater agreement over items (task, seed, pipeline pair) judged by two or more raters: Cohen's κ per
rater pair, Fleiss' κ (Fleiss 1971, variable raters per item), Krippendorff's α (nominal, coincidence
matrix; Krippendorff 2011). Labels: first pipeline (in name order) better, second better, tie, both bad.

Metric-human agreement (VIEScore / ImageReward style): over the decisive votes (left or right), the
share where a metric prefers the same output (metric ties count one half), with a bootstrap interval,
and Kendall's τ between the metric's per-pipeline means and the Bradley-Terry ratings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy.stats import kendalltau

from harness.contract.votes import Vote

SCALE = 400.0
BASE = 10.0
INITIAL = 1000.0
ROUNDS = 100
RIDGE = 0.01
CONFIDENCE = 0.95
LABELS = ("first", "second", "tie", "both_bad")


def design(votes: Sequence[Vote], pipelines: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, w): one row per vote, ``X[i, left] = ln(base)``, ``X[i, right] = -ln(base)``, y = 1 when the
    left won; a tie / both bad becomes two rows of weight 1/2 (one left win, one right win)."""
    col = {p: i for i, p in enumerate(pipelines)}
    rows, ys, ws = [], [], []
    for v in votes:
        x = np.zeros(len(pipelines))
        x[col[v.left]], x[col[v.right]] = math.log(BASE), -math.log(BASE)
        if v.answer in ("left", "right"):
            rows.append(x)
            ys.append(1.0 if v.answer == "left" else 0.0)
            ws.append(1.0)
        else:
            rows += [x, x]
            ys += [1.0, 0.0]
            ws += [0.5, 0.5]
    if not rows:
        return np.zeros((0, len(pipelines))), np.zeros(0), np.zeros(0)
    return np.array(rows), np.array(ys), np.array(ws)


def fit_logistic(X: np.ndarray, y: np.ndarray, w: np.ndarray, *, ridge: float = RIDGE, iters: int = 100) -> np.ndarray:
    """Coefficients minimising ``-sum w log p(y|X beta) + ridge/2 |beta|^2`` (no intercept) by Newton's
    method; with ``ridge=0`` the minimum-norm optimum (pseudo-inverse steps)."""
    beta = np.zeros(X.shape[1])
    for _ in range(iters):
        z = X @ beta
        p = 1.0 / (1.0 + np.exp(-z))
        grad = X.T @ (w * (p - y)) + ridge * beta
        hess = (X * (w * p * (1 - p))[:, None]).T @ X + ridge * np.eye(X.shape[1])
        step = np.linalg.pinv(hess) @ grad
        beta = beta - step
        if np.max(np.abs(step), initial=0.0) < 1e-10:
            break
    return beta


def bt_ratings(votes: Sequence[Vote], pipelines: Sequence[str], *, ridge: float = RIDGE) -> np.ndarray:
    """Bradley-Terry ratings (GenAI-Arena scale) of ``pipelines`` from ``votes``, mean ``INITIAL``."""
    X, y, w = design(votes, pipelines)
    beta = fit_logistic(X, y, w, ridge=ridge) if len(y) else np.zeros(len(pipelines))
    beta = beta - beta.mean()
    return INITIAL + SCALE * beta


@dataclass
class Rating:
    pipeline: str
    rating: float
    lo: float
    hi: float
    n_votes: int                  # votes this pipeline took part in
    wins: int
    losses: int
    ties: int
    both_bad: int

    @property
    def both_bad_rate(self) -> float:
        return self.both_bad / self.n_votes if self.n_votes else math.nan


def ratings(votes: Sequence[Vote], *, rounds: int = ROUNDS, confidence: float = CONFIDENCE, seed: int = 0,
            ridge: float = RIDGE) -> list[Rating]:
    """Ratings with bootstrap percentile intervals (``rounds`` resamples of the votes), best first."""
    pipelines = sorted({p for v in votes for p in (v.left, v.right)})
    if not pipelines:
        return []
    point = bt_ratings(votes, pipelines, ridge=ridge)
    rng = np.random.default_rng(seed)
    boot = np.array([bt_ratings([votes[i] for i in rng.integers(0, len(votes), len(votes))], pipelines, ridge=ridge)
                     for _ in range(rounds)]) if rounds else np.full((1, len(pipelines)), np.nan)
    a = (1 - confidence) / 2
    lo, hi = np.quantile(boot, a, axis=0), np.quantile(boot, 1 - a, axis=0)
    out = []
    for i, p in enumerate(pipelines):
        mine = [v for v in votes if p in (v.left, v.right)]
        out.append(Rating(p, float(point[i]), float(lo[i]), float(hi[i]), len(mine),
                          wins=sum(v.winner == p for v in mine), losses=sum(v.winner not in (None, p) for v in mine),
                          ties=sum(v.answer == "tie" for v in mine),
                          both_bad=sum(v.answer == "both_bad" for v in mine)))
    return sorted(out, key=lambda r: -r.rating)


def canonical_label(v: Vote) -> str:
    """The vote's answer relative to the item's pipelines in name order (independent of the shown order)."""
    if v.answer in ("tie", "both_bad"):
        return v.answer
    return "first" if v.winner == v.item[2] else "second"


def item_labels(votes: Iterable[Vote]) -> dict[tuple, dict[str, str]]:
    """{item: {rater: label}} (a rater's last vote on an item counts)."""
    out: dict[tuple, dict[str, str]] = {}
    for v in votes:
        out.setdefault(v.item, {})[v.rater] = canonical_label(v)
    return out


def cohen_kappa(a: Sequence[str], b: Sequence[str], *, labels: Sequence[str] = LABELS) -> float:
    """Cohen's κ of two raters' labels on the same items (NaN when chance agreement is 1)."""
    n = len(a)
    if n == 0:
        return math.nan
    po = sum(x == y for x, y in zip(a, b)) / n
    pe = sum((sum(x == c for x in a) / n) * (sum(y == c for y in b) / n) for c in labels)
    return (po - pe) / (1 - pe) if pe < 1 else math.nan


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' κ from an items x categories count matrix (items with fewer than 2 ratings left out)."""
    counts = np.asarray(counts, dtype=np.float64)
    n_i = counts.sum(axis=1)
    counts, n_i = counts[n_i >= 2], n_i[n_i >= 2]
    if len(counts) == 0:
        return math.nan
    p_i = ((counts ** 2).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_j = counts.sum(axis=0) / n_i.sum()
    pe = float((p_j ** 2).sum())
    return (float(p_i.mean()) - pe) / (1 - pe) if pe < 1 else math.nan


def krippendorff_alpha_nominal(units: Iterable[Sequence[str]]) -> float:
    """Krippendorff's α (nominal) from each unit's list of values (units with fewer than 2 left out)."""
    units = [list(u) for u in units if len(u) >= 2]
    cats = sorted({x for u in units for x in u})
    if not units or len(cats) < 2:
        return math.nan
    idx = {c: i for i, c in enumerate(cats)}
    o = np.zeros((len(cats), len(cats)))
    for u in units:
        m = len(u)
        c = np.zeros(len(cats))
        for x in u:
            c[idx[x]] += 1
        o += (np.outer(c, c) - np.diag(c)) / (m - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    d_o = (o.sum() - np.trace(o)) / n
    d_e = (n * n - (n_c ** 2).sum()) / (n * (n - 1))
    return 1 - d_o / d_e if d_e > 0 else math.nan


@dataclass
class RaterAgreement:
    raters: list[str]
    n_items: int                                    # items judged by two or more raters
    cohen: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)   # pair -> (κ, shared items)
    fleiss: float = math.nan
    alpha: float = math.nan


def rater_agreement(votes: Sequence[Vote]) -> RaterAgreement:
    """Inter-rater agreement over the items two or more raters judged."""
    labels = item_labels(votes)
    shared = {k: r for k, r in labels.items() if len(r) >= 2}
    raters = sorted({v.rater for v in votes})
    out = RaterAgreement(raters=raters, n_items=len(shared))
    if not shared:
        return out
    for r1, r2 in combinations(raters, 2):
        both = [(d[r1], d[r2]) for d in shared.values() if r1 in d and r2 in d]
        if both:
            out.cohen[(r1, r2)] = (cohen_kappa([x for x, _ in both], [y for _, y in both]), len(both))
    counts = np.array([[sum(x == c for x in d.values()) for c in LABELS] for d in shared.values()])
    out.fleiss = fleiss_kappa(counts)
    out.alpha = krippendorff_alpha_nominal(list(d.values()) for d in shared.values())
    return out


@dataclass
class MetricAgreement:
    metric: str
    accuracy: float                # share of decisive votes where the metric prefers the same output
    lo: float
    hi: float
    n_votes: int                   # decisive votes with the metric's value on both rows
    tau: float                     # Kendall's τ, metric pipeline means vs Bradley-Terry ratings
    n_pipelines: int


def pairwise_accuracy(votes: Sequence[Vote], value: Callable[[str, int, str], float], *, higher_is_better: bool,
                      rounds: int = 1000, confidence: float = CONFIDENCE,
                      seed: int = 0) -> tuple[float, float, float, int]:
    """(accuracy, lo, hi, n) of a metric over the decisive votes; ``value(task_id, seed, pipeline)`` gives
    the metric of a row (NaN when missing: the vote is left out). Metric ties count 1/2."""
    hits = []
    for v in votes:
        if v.winner is None:
            continue
        loser = v.right if v.winner == v.left else v.left
        a, b = value(v.task_id, v.seed, v.winner), value(v.task_id, v.seed, loser)
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        hits.append(0.5 if a == b else float((a > b) == higher_is_better))
    return accuracy_interval(hits, rounds=rounds, confidence=confidence, seed=seed)


def accuracy_interval(hits: Sequence[float], *, rounds: int = 1000, confidence: float = CONFIDENCE,
                      seed: int = 0) -> tuple[float, float, float, int]:
    """(mean, lo, hi, n) of per-vote agreement scores (1, 1/2 or 0), percentile bootstrap over votes."""
    if not len(hits):
        return math.nan, math.nan, math.nan, 0
    h = np.asarray(hits, dtype=np.float64)
    rng = np.random.default_rng(seed)
    boot = h[rng.integers(0, len(h), (rounds, len(h)))].mean(axis=1)
    a = (1 - confidence) / 2
    return float(h.mean()), float(np.quantile(boot, a)), float(np.quantile(boot, 1 - a)), len(h)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's τ-b (scipy), NaN with fewer than 2 finite pairs or no variation."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return math.nan
    return float(kendalltau(x[keep], y[keep]).statistic)


def metric_agreement(votes: Sequence[Vote], rated: Sequence[Rating], metric: str,
                     value: Callable[[str, int, str], float], means: dict[str, float], *,
                     higher_is_better: bool, seed: int = 0) -> MetricAgreement:
    """Agreement of one automatic metric with the votes (``means``: the metric's per-pipeline mean)."""
    acc, lo, hi, n = pairwise_accuracy(votes, value, higher_is_better=higher_is_better, seed=seed)
    both = [r for r in rated if math.isfinite(means.get(r.pipeline, math.nan))]
    sign = 1.0 if higher_is_better else -1.0
    tau = kendall_tau([sign * means[r.pipeline] for r in both], [r.rating for r in both])
    return MetricAgreement(metric, acc, lo, hi, n, tau, len(both))


def judge_agreement(people: Sequence[Vote], judge: Sequence[Vote], rated: Sequence[Rating], name: str, *,
                    seed: int = 0) -> MetricAgreement:
    """A judge rater as one more row of the agreement table: over the people's decisive votes on items the
    judge also judged, 1 when it chose the same output, 1/2 for its tie or both bad, 0 otherwise (averaged
    over its votes on the item, e.g. both shown orders); τ between its own Bradley-Terry ratings and the
    people's."""
    choices: dict[tuple, list[str | None]] = {}
    for v in judge:                     # a judge asked in both orders has two votes on an item: both count
        choices.setdefault(v.item, []).append(v.winner)
    hits = [float(np.mean([0.5 if c is None else float(c == v.winner) for c in choices[v.item]]))
            for v in people if v.winner is not None and v.item in choices]
    acc, lo, hi, n = accuracy_interval(hits, seed=seed)
    own = {r.pipeline: r.rating for r in ratings(judge, rounds=0)} if judge else {}
    both = [r for r in rated if r.pipeline in own]
    tau = kendall_tau([own[r.pipeline] for r in both], [r.rating for r in both])
    return MetricAgreement(name, acc, lo, hi, n, tau, len(both))


def simulate_votes(strengths: dict[str, float], *, n: int, seed: int = 0, tie_rate: float = 0.0,
                   tasks: int = 20) -> list[Vote]:
    """``n`` votes between random pairs drawn from a Bradley-Terry model with the given ratings
    (GenAI-Arena scale); a share ``tie_rate`` of them are ties. For tests and the interval-width table."""
    rng = np.random.default_rng(seed)
    names = sorted(strengths)
    out = []
    for i in range(n):
        a, b = rng.choice(len(names), 2, replace=False)
        left, right = names[a], names[b]
        p_left = 1.0 / (1.0 + BASE ** ((strengths[right] - strengths[left]) / SCALE))
        if rng.random() < tie_rate:
            answer = "tie"
        else:
            answer = "left" if rng.random() < p_left else "right"
        out.append(Vote(rater=f"sim{i % 3}", time=f"t{i:08d}", task_id=f"t{int(rng.integers(tasks)):03d}", seed=0,
                        left=left, right=right, answer=answer))
    return out
