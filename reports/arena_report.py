"""The people section of a report: Bradley-Terry ratings from the run's votes (``<run>/votes/*.jsonl``)
beside the automatic metrics, and the table "agreement with people on this suite".

Ratings are fitted on the people's votes (raters not named ``judge:<model>``). The agreement table has
one row per quality metric of the run and one per judge rater: the share of the people's decisive votes
(left or right) on which it prefers the same output, with a 95 % bootstrap interval and the number of
votes behind it, and Kendall's τ between its per-pipeline ranking and the people's ratings; best first.
Inter-rater agreement (Cohen's κ per pair, Fleiss' κ, Krippendorff's α) appears once two raters judged
the same items. See docs/arena.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.contract.votes import read_votes
from harness.core.errors import EditbenchError
from reports import arena_stats as st
from reports.arena_pairs import quality_metrics
from reports.markdown import format_markdown, md
from scorers.columns import direction

JUDGE_PREFIX = "judge:"


@dataclass
class People:
    n_votes: int                                  # every vote, people and judges
    raters: list[str]
    ratings: list[st.Rating]                      # from the people's votes, best first
    agreement: list[st.MetricAgreement]           # metrics and judges, best first
    raters_agreement: st.RaterAgreement
    notes: list[str] = field(default_factory=list)


def _is_judge(rater: str) -> bool:
    return rater.startswith(JUDGE_PREFIX)


def _row_values(df: pd.DataFrame, metric: str) -> dict[tuple[str, int, str], float]:
    ok = df[df["status"] == "ok"]
    if "weights" in ok.columns:
        ok = ok[ok["weights"] != "random"]
    vals = pd.to_numeric(ok[metric], errors="coerce").to_numpy(dtype=np.float64)
    return {(str(t), int(s), str(p)): float(v) for t, s, p, v in zip(ok["task_id"], ok["seed"], ok["pipeline"], vals)}


def _task_means(values: dict[tuple[str, int, str], float]) -> dict[str, float]:
    per: dict[str, dict[str, list[float]]] = {}
    for (t, _s, p), v in values.items():
        if math.isfinite(v):
            per.setdefault(p, {}).setdefault(t, []).append(v)
    return {p: float(np.mean([np.mean(x) for x in ts.values()])) for p, ts in per.items()}


def people_summary(run_dir: str | Path, df: pd.DataFrame, record: dict[str, dict]) -> People | None:
    """The people section of run ``run_dir`` (``df``: its rows, ``record``: its metrics), None without votes."""
    votes = read_votes(run_dir)
    if not votes:
        return None
    people = [v for v in votes if not _is_judge(v.rater)]
    rated = st.ratings(people) if people else []
    rows = []
    for m in quality_metrics(df, record):
        values = _row_values(df, m)
        rows.append(st.metric_agreement(people, rated, m, lambda t, s, p, d=values: d.get((t, s, p), math.nan),
                                        _task_means(values), higher_is_better=direction(record, m) == "higher"))
    for j in sorted({v.rater for v in votes if _is_judge(v.rater)}):
        rows.append(st.judge_agreement(people, [v for v in votes if v.rater == j], rated, j))
    rows.sort(key=lambda a: (not math.isfinite(a.accuracy), -(a.accuracy if math.isfinite(a.accuracy) else 0),
                             -a.n_votes))
    notes = []
    if not people:
        notes.append("only judge votes so far: no people's ratings")
    elif len(people) < 50:
        notes.append(f"{len(people)} people's votes: intervals are wide (docs/arena.md has the votes-to-width table)")
    return People(len(votes), sorted({v.rater for v in votes}), rated, rows, st.rater_agreement(votes), notes)


def _f(v: float, digits: str = "{:.0f}") -> str:
    return digits.format(v) if v is not None and math.isfinite(v) else "—"


def _pct(v: float) -> str:
    return f"{100 * v:.0f} %" if math.isfinite(v) else "—"


def count_text(p: People) -> str:
    n = len(p.raters)
    return f"{p.n_votes} vote{'s' * (p.n_votes != 1)} from {n} rater{'s' * (n != 1)}"


def rating_rows(p: People) -> tuple[list[str], list[list[str]]]:
    head = ["pipeline", "people's rating [95% CI]", "votes", "won/lost/tie", "both bad"]
    rows = [[r.pipeline, f"{_f(r.rating)} [{_f(r.lo)}, {_f(r.hi)}]", str(r.n_votes), f"{r.wins}/{r.losses}/{r.ties}",
             _pct(r.both_bad_rate)] for r in p.ratings]
    return head, rows


def agreement_rows(p: People) -> tuple[list[str], list[list[str]]]:
    head = ["metric or judge", "pairwise accuracy [95% CI]", "decisive votes", "Kendall τ vs people", "pipelines"]
    rows = [[a.metric, f"{_pct(a.accuracy)} [{_pct(a.lo)}, {_pct(a.hi)}]" if a.n_votes else "—", str(a.n_votes),
             _f(a.tau, "{:.2f}"), str(a.n_pipelines)] for a in p.agreement]
    return head, rows


def kappa_lines(p: People) -> list[str]:
    ra = p.raters_agreement
    if ra.n_items == 0:
        return ["Inter-rater agreement: no item judged by two raters yet."]
    lines = [f"Inter-rater agreement on {ra.n_items} items judged by two or more raters: Fleiss' κ "
             f"{_f(ra.fleiss, '{:.2f}')}, Krippendorff's α {_f(ra.alpha, '{:.2f}')}."]
    lines += [f"Cohen's κ {a} / {b}: {_f(k, '{:.2f}')} on {n} items." for (a, b), (k, n) in sorted(ra.cohen.items())]
    return lines


RATING_NOTE = ("Bradley-Terry ratings from the people's votes (logistic-regression MLE, scale 400, base 10, mean "
               "1000; a tie or both-bad is half a win each), 95 % interval from 100 bootstrap rounds over votes. "
               "Both bad: share of the pipeline's votes answered both bad.")
AGREEMENT_NOTE = ("Pairwise accuracy: share of the people's decisive votes (left or right) on which the metric "
                  "prefers the same output (a metric tie counts half; 50 % is a coin), 95 % bootstrap interval. "
                  "Kendall τ: the metric's per-pipeline task means against the people's ratings "
                  "(1 same order, -1 reversed).")


def terminal_section(p: People) -> str:
    def table(head, rows):
        w = [max(len(x) for x in col) for col in zip(head, *rows)]
        line = lambda cells: "  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(cells))  # noqa: E731
        return [line(head), "  ".join("-" * x for x in w), *[line(r) for r in rows]]

    out = ["", f"People's ratings ({count_text(p)})"]
    if p.ratings:
        out += table(*rating_rows(p))
    out += ["", "Agreement with people on this suite"] + table(*agreement_rows(p))
    out += kappa_lines(p) + [f"note: {n}." for n in p.notes]
    return "\n".join(out) + "\n"


def markdown_section(p: People) -> str:
    parts = ["", f"## People's ratings ({count_text(p)})", "", RATING_NOTE, ""]
    if p.ratings:
        parts.append(format_markdown(*rating_rows(p)))
    parts += ["", "## Agreement with people on this suite", "", AGREEMENT_NOTE, "", format_markdown(*agreement_rows(p)),
              "", *[md(x) + "  " for x in kappa_lines(p)], *[f"> note: {md(n)}." for n in p.notes]]
    return "\n".join(parts) + "\n"


def _num(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def json_section(p: People) -> dict:
    """The ``people`` entry of results.json (strict JSON: null where no value)."""
    ra = p.raters_agreement
    return {
        "n_votes": p.n_votes, "raters": p.raters,
        "rating": {"model": "bradley-terry", "scale": st.SCALE, "base": st.BASE, "initial": st.INITIAL,
                   "bootstrap_rounds": st.ROUNDS, "confidence": st.CONFIDENCE, "ties": "half a win each"},
        "ratings": {r.pipeline: {"rating": _num(r.rating), "ci": [_num(r.lo), _num(r.hi)], "n_votes": r.n_votes,
                                 "wins": r.wins, "losses": r.losses, "ties": r.ties, "both_bad": r.both_bad,
                                 "both_bad_rate": _num(r.both_bad_rate)} for r in p.ratings},
        "agreement": [{"metric": a.metric, "pairwise_accuracy": _num(a.accuracy), "ci": [_num(a.lo), _num(a.hi)],
                       "n_votes": a.n_votes, "kendall_tau": _num(a.tau), "n_pipelines": a.n_pipelines}
                      for a in p.agreement],
        "raters_agreement": {"n_items": ra.n_items, "fleiss_kappa": _num(ra.fleiss),
                             "krippendorff_alpha": _num(ra.alpha),
                             "cohen_kappa": [{"raters": [a, b], "kappa": _num(k), "n_items": n}
                                             for (a, b), (k, n) in sorted(ra.cohen.items())]},
    }


MIN_GATE_VOTES = 30         # decisive people's votes a metric needs before `gated: best-agreeing` may pick it


def best_agreeing_metric(run_dir: str | Path, df: pd.DataFrame, record: dict[str, dict], *,
                         min_votes: int = MIN_GATE_VOTES) -> tuple[str, str]:
    """(metric, why) for ``gated: best-agreeing``: the run's quality metric with the highest pairwise accuracy
    on the people's votes among those with at least ``min_votes`` decisive votes and an interval above 50 %;
    EditbenchError naming the run when there is none."""
    p = people_summary(run_dir, df, record)
    if p is None:
        raise EditbenchError(f"gates.yaml says gated: best-agreeing but {run_dir} has no votes in "
                             f"{Path(run_dir) / 'votes'} (collect them with `editbench arena {run_dir}`).")
    metrics = [a for a in p.agreement if not _is_judge(a.metric)]
    ok = [a for a in metrics if a.n_votes >= min_votes and math.isfinite(a.lo) and a.lo > 0.5]
    if not ok:
        best = metrics[0] if metrics else None
        seen = (f"; the best, {best.metric}, agrees on {_pct(best.accuracy)} [{_pct(best.lo)}, {_pct(best.hi)}] of "
                f"{best.n_votes} decisive votes") if best else ""
        raise EditbenchError(f"gates.yaml says gated: best-agreeing but no metric of {run_dir} agrees with people "
                             f"measurably better than a coin on at least {min_votes} decisive votes{seen}.")
    a = ok[0]
    return a.metric, (f"gated on {a.metric}, the metric that agrees best with people on this suite: "
                      f"{_pct(a.accuracy)} [{_pct(a.lo)}, {_pct(a.hi)}] of {a.n_votes} decisive votes")
