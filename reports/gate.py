"""The regression gate: is a candidate run worse than a baseline run, beyond tolerance and noise?

Every outcome is a verdict with files: gate.md, gate.json and gate-junit.xml are written on every
path, and the exit code is 0 (pass), 1 (a gated metric regressed, or error/timeout rows rose — an
all-failed candidate is such a failure) or 2 (unusable input: missing or unreadable runs, different
suites without ``--force``, a metric whose direction or version differs between the two run.json
records, a candidate that lacks a baseline pipeline, metric, task or seeds or ran with a smaller
``limit`` or did not complete — unless ``--allow-partial`` — and a gate that compared nothing).

Statistics (:mod:`reports.stats`): for every compared pipeline pair (same name in both runs, or
``pairs:`` in gates.yaml for a model swap) and every gated metric, seeds are averaged within each
task and the per-task differences (candidate − baseline) give the paired t interval of the task-mean
difference. With the metric's direction from the *baseline* run.json ``metrics`` record and
``tol = max(abs_tol, rel_tol * |baseline mean|)``, each metric is tested one-sided against its
tolerance ("the bad-side shift exceeds tol"), at family-wise level ``(1 - confidence) / 2`` over the
gated verdicts with weighted Holm (``family: holm``, the default): the primary's verdicts share
``primary_weight`` (0.5) of that level, the others the rest (:func:`reports.stats.weighted_holm`);
``family: none`` tests each metric at that level alone, which is the CI rule "the whole interval lies
beyond tol". Quality metrics whose values are identical on both sides, or of a pipeline whose output
files are byte-identical to the baseline's, are left out of the family (decided on equality, never on
the sign). ``improved`` is the mirror test (it never fails a gate). ``gated: primary`` gates only the
run's primary metric, its companions and the guardrail columns; the others are reported as advisory.
Guardrails (:data:`scorers.goals.GUARDRAILS`) are always gated: a task where every baseline row kept one
and a candidate row breaks it fails the gate. A baseline whose run.json says its suite is not rankable
is refused (exit 2). Per gated verdict gate.md gives the smallest regression detectable with 80 % power,
and a suite under ``small_suite`` (8) tasks gets a warning. ``gated: best-agreeing`` gates only the quality
metric that agrees best with the people's votes of the baseline run (docs/arena.md). Provenance columns are never gated.
A metric that has rows in the runs but no finite value on both sides (e.g. all +inf) is ``non-finite``
and fails a gate rather than passing as "no data"; +-inf rows are left out of the comparison and
counted in a warning either way.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.contract.results import load_run
from harness.contract.spec import read_yaml_mapping
from harness.core.errors import EditbenchError, format_validation_error
from harness.core.storage import atomic_write_text
from reports.arena_report import best_agreeing_metric
from reports.config_diff import config_diff, run_title
from reports.markdown import md
from reports.rows import metric_rows, value_rows
from reports.stats import Difference, detectable_shift, difference_ci_rows, holm_adjusted, one_sided_p, weighted_holm
from scorers.columns import is_ranked, is_stage_column, primary_choice, primary_metric, read_metrics, registry_record
from scorers.goals import Guardrail, guardrails_for

Verdict = Literal["regressed", "improved", "no change", "no data", "non-finite"]


class MetricRule(BaseModel):
    """Gate rule of one metric (or a glob of metrics such as ``latency.*``)."""

    model_config = ConfigDict(extra="forbid")

    abs_tol: float = 0.0                          # tolerated change in metric units
    rel_tol: float = 0.0                          # tolerated change as a share of |baseline mean|
    direction: Literal["higher", "lower"] | None = None   # None: the direction in the baseline run.json
    ignore: bool = False                          # advisory: reported, not gated (not in the Holm family)


class PipelinePair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseline: str                                 # pipeline name in the baseline run
    candidate: str                                # pipeline name in the candidate run


# Built-in rules; a gates.yaml ``metrics:`` mapping is merged over them (first matching glob wins,
# exact names before globs). Latency is wall-clock: compare it on the same hardware, and tighten it there.
# Cost (a price table times requests) is reported, never gated unless gates.yaml names it.
DEFAULT_RULES = {"latency.*": MetricRule(rel_tol=0.25), "cost.*": MetricRule(ignore=True), "*": MetricRule()}


class GateConfig(BaseModel):
    """gates.yaml. Every field optional."""

    model_config = ConfigDict(extra="forbid")

    confidence: float = Field(0.95, gt=0, lt=1)   # two-sided t interval level; the one-sided tests run at
                                                  # family-wise level (1 - confidence) / 2
    family: Literal["holm", "none"] = "holm"      # holm: family-wise error over all gated verdicts; none: per metric
    gated: Literal["all", "primary", "best-agreeing"] = "all"   # primary: gate only the run's primary metric
                                                  # (others advisory); best-agreeing: only the metric that agrees
                                                  # best with the baseline's people's votes (docs/arena.md);
                                                  # guardrails are gated either way
    primary_weight: float = Field(0.5, gt=0, le=1)   # share of alpha the primary's verdicts carry (weighted Holm);
                                                     # 1: the fixed-sequence procedure (others only after it)
    small_suite: int = Field(8, ge=2)             # fewer tasks than this: a warning that the gate can detect little
    max_new_failure_rate: float = Field(0.0, ge=0, le=1)  # allowed rise in the share of error+timeout rows
    pairs: list[PipelinePair] = Field(default_factory=list)   # empty: pipelines with the same name
    metrics: dict[str, MetricRule] = Field(default_factory=dict)

    @property
    def alpha(self) -> float:
        return (1 - self.confidence) / 2

    def rule(self, metric: str) -> MetricRule:
        rules = {**DEFAULT_RULES, **self.metrics}
        if metric in rules:
            return rules[metric]
        globs = sorted((k for k in rules if any(ch in k for ch in "*?[")), key=lambda k: (k == "*", -len(k)))
        return next(rules[k] for k in globs if fnmatch.fnmatchcase(metric, k))


def load_gate_config(path: str | Path | None) -> GateConfig:
    if path is None:
        return GateConfig()
    path = Path(path)
    data = read_yaml_mapping(path, what="gate config", empty_ok=True)
    try:
        return GateConfig(**data)
    except ValidationError as e:
        raise EditbenchError(format_validation_error(e, where=f"gate config {path}")) from None


@dataclass
class MetricResult:
    baseline_pipeline: str
    candidate_pipeline: str
    metric: str
    direction: str
    tolerance: float
    verdict: Verdict
    gated: bool
    diff: Difference
    role: str = "quality"
    p_regressed: float = float("nan")       # one-sided p of "worse by more than the tolerance"
    p_regressed_adj: float = float("nan")   # ... Holm-adjusted over the gated family (= p with family none)
    p_improved: float = float("nan")
    p_improved_adj: float = float("nan")
    excluded: str = ""                      # why it is not in the family: "identical values" / "identical outputs"
    weight: float = float("nan")            # share of alpha in the weighted Holm family
    level: float = float("nan")             # one-sided level it is first tested at (alpha x its share)
    detectable: float = float("nan")        # smallest bad-side shift detected with 80 % power at that level

    def describe(self) -> str:
        d = self.diff
        return (f"{self.metric} ({self.direction} is better) of {self.candidate_pipeline} vs {self.baseline_pipeline}: "
                f"{d.baseline:.4g} -> {d.candidate:.4g}, diff {d.diff:+.4g} [{d.lo:+.4g}, {d.hi:+.4g}], "
                f"tolerance {self.tolerance:.4g}, p(regressed) {self.p_regressed_adj:.3g} adjusted, "
                f"n = {d.n_tasks} tasks / {d.n_pairs} {'pairs' if d.paired else 'rows'}")


@dataclass
class FailureResult:
    baseline_pipeline: str
    candidate_pipeline: str
    baseline_failed: int
    baseline_rows: int
    candidate_failed: int
    candidate_rows: int
    new_failures: list[str]                  # "task_id/seed" ok in baseline, error/timeout in candidate
    threshold: float
    failed: bool

    @property
    def rise(self) -> float:
        return self.candidate_failed / max(self.candidate_rows, 1) - self.baseline_failed / max(self.baseline_rows, 1)


@dataclass
class GuardrailResult:
    """A guardrail (scorers.goals) the candidate broke on tasks where the baseline kept it: always gated."""

    baseline_pipeline: str
    candidate_pipeline: str
    rule: str                                # e.g. "background.psnr ≥ 30 (kept region changed)"
    new_failures: list[str]                  # task_ids: every baseline row passes, some candidate row fails
    candidate_failed_rows: int
    candidate_rows: int

    @property
    def failed(self) -> bool:
        return bool(self.new_failures)


@dataclass
class GateResult:
    baseline: str
    candidate: str
    config: dict
    metrics: list[MetricResult] = field(default_factory=list)
    failures: list[FailureResult] = field(default_factory=list)
    guardrails: list[GuardrailResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None                 # unusable input: the one sentence naming what is wrong
    changes: list[str] = field(default_factory=list)   # what changed between the runs' configurations
    titles: tuple[str, str] = ("", "")       # the runs' names (name, tags, run_id; reports.config_diff.run_title)

    @property
    def regressed(self) -> list[MetricResult]:
        return [m for m in self.metrics if m.gated and m.verdict == "regressed"]

    @property
    def non_finite(self) -> list["MetricResult"]:
        return [m for m in self.metrics if m.gated and m.verdict == "non-finite"]

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        failed = (self.regressed or self.non_finite or any(f.failed for f in self.failures)
                  or any(g.failed for g in self.guardrails))
        return "fail" if failed else "pass"

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1, "error": 2}[self.status]

    def summary(self) -> str:
        if self.error is not None:
            return f"ERROR: {self.error}"
        if self.passed:
            imp = [m for m in self.metrics if m.verdict == "improved"]
            extra = f"; improved: {', '.join(f'{m.metric} ({m.candidate_pipeline})' for m in imp)}" if imp else ""
            return f"PASS: no regression{extra}."
        parts = [f"{m.metric} ({m.candidate_pipeline})" for m in self.regressed]
        parts += [f"{m.metric} ({m.candidate_pipeline}) has no finite value to compare" for m in self.non_finite]
        parts += [f"failures of {f.candidate_pipeline} ({f.candidate_failed}/{f.candidate_rows} rows)"
                  for f in self.failures if f.failed]
        parts += [f"guardrail {g.rule} of {g.candidate_pipeline} (broken on {len(g.new_failures)} task(s))"
                  for g in self.guardrails if g.failed]
        return "FAIL: regressed: " + ", ".join(parts) + "."


def verdict(diff: Difference, direction: str, tol: float) -> Verdict:
    """The CI rule: regressed/improved only when the whole CI lies beyond ``tol`` on one side.

    Equivalent to the gate's one-sided tests with ``family: none`` (same t quantile).
    """
    if diff.n_tasks == 0 or not (math.isfinite(diff.lo) and math.isfinite(diff.hi)):
        return "no data"
    sign = 1.0 if direction == "higher" else -1.0     # positive = better
    good_lo, good_hi = sorted((sign * diff.lo, sign * diff.hi))
    if good_hi < -tol:
        return "regressed"
    if good_lo > tol:
        return "improved"
    return "no change"


def decide(p_reg: np.ndarray, p_imp: np.ndarray, alpha: float, family: str,
           weights: np.ndarray | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Verdicts of a family of one-sided tests: (verdicts, adjusted p regressed, adjusted p improved).

    ``family="holm"``: Holm-adjusted p-values over the family (weighted Holm with ``weights``, e.g. the
    primary's larger share; equal weights: Holm); ``"none"``: the p-values as they are. A verdict is
    ``regressed``/``improved`` when its (adjusted) p is below ``alpha``; NaN p: ``no data``.
    """
    p_reg, p_imp = np.asarray(p_reg, dtype=np.float64), np.asarray(p_imp, dtype=np.float64)
    if family == "holm" and weights is not None:
        a_reg, a_imp = weighted_holm(p_reg, weights, alpha)[1], weighted_holm(p_imp, weights, alpha)[1]
    elif family == "holm":
        a_reg, a_imp = holm_adjusted(p_reg), holm_adjusted(p_imp)
    else:
        a_reg, a_imp = p_reg, p_imp
    out = []
    for r, i in zip(a_reg, a_imp):
        if not np.isfinite(r):
            out.append("no data")
        elif r < alpha:
            out.append("regressed")
        elif i < alpha:
            out.append("improved")
        else:
            out.append("no change")
    return out, a_reg, a_imp


def _n_infinite(df: pd.DataFrame, metric: str, record: dict[str, dict] | None = None) -> int:
    """How many of the rows ``metric`` is computed from hold +-inf (0 when ``df`` lacks the column)."""
    if metric not in df.columns:
        return 0
    vals = metric_rows(df, metric, record)[metric].to_numpy(dtype=float)
    return int(np.isinf(vals).sum())


def _failures(b: pd.DataFrame, c: pd.DataFrame, pair: PipelinePair, threshold: float) -> FailureResult:
    bad = ("error", "timeout")
    b_ok = {(str(t), int(s)) for t, s, st in zip(b["task_id"], b["seed"], b["status"]) if st == "ok"}
    new = sorted(f"{t}/{s}" for t, s, st in zip(c["task_id"], c["seed"], c["status"])
                 if st in bad and (str(t), int(s)) in b_ok)
    res = FailureResult(pair.baseline, pair.candidate, int(b["status"].isin(bad).sum()), len(b),
                        int(c["status"].isin(bad).sum()), len(c), new, threshold, False)
    res.failed = res.rise > threshold + 1e-12
    return res


def _check_suites(bm: dict, cm: dict, base: Path, cand: Path, force: bool, warnings: list[str]) -> None:
    bs, cs = bm.get("suite") or {}, cm.get("suite") or {}
    if bs.get("name") != cs.get("name"):
        msg = (f"baseline {base} ran suite {bs.get('name')!r} but candidate {cand} ran suite {cs.get('name')!r}; "
               "a gate compares runs of the same suite (pass --force to compare the common task_ids anyway).")
        if not force:
            raise EditbenchError(msg)
        warnings.append("forced: " + msg)
    elif bs.get("hash") != cs.get("hash"):
        msg = (f"suite {bs.get('name')!r} has different content in baseline {base} (hash {str(bs.get('hash'))[:12]}) "
               f"and candidate {cand} (hash {str(cs.get('hash'))[:12]}); pass --force to gate anyway.")
        if not force:
            raise EditbenchError(msg)
        warnings.append("forced: " + msg)


def _record(run_dir: Path, meta: dict, columns, where: str, warnings: list[str]) -> dict[str, dict]:
    """The run's run.json ``metrics`` record (:func:`scorers.columns.read_metrics`); for a run written
    before runs carried one, today's scorer definitions with the warning in gate.md (stderr keeps its
    one line)."""
    rec = meta.get("metrics")
    if isinstance(rec, dict) and rec:
        return read_metrics(run_dir, meta, columns=list(columns))
    warnings.append(f"{where} has no metric metadata in run.json (written by an older editbench); its metrics "
                    "are read with the current scorer definitions.")
    return registry_record()


def _check_records(brec: dict, crec: dict, base: Path, cand: Path) -> None:
    for col in sorted(brec.keys() & crec.keys()):
        for key in ("direction", "version", "backend", "sha256"):   # backend/sha256: the model a scorer used
            if key in brec[col] and key in crec[col] and brec[col][key] != crec[col][key]:
                raise EditbenchError(
                    f"metric {col!r} has {key} {brec[col][key]!r} in baseline {base}/run.json but {crec[col][key]!r} in "
                    f"candidate {cand}/run.json; a gate compares one definition of a metric (rerun one side).")
        problem = pin_mismatch(brec[col].get("pins"), crec[col].get("pins"))
        if problem:
            raise EditbenchError(f"metric {col!r} was {problem} in baseline {base}/run.json and candidate {cand}/run.json; "
                                 "a judge's scores are comparable only under one pinned judge (rescore one side with "
                                 "the other's judge config).")


def pin_mismatch(b: dict | None, c: dict | None) -> str | None:
    """How two runs' pins of a metric (a judge's model, protocol and version, the models its server
    reported) differ, as a phrase; None when they agree or the metric has none."""
    if not b and not c:
        return None
    b, c = b or {}, c or {}
    for key, what in (("model", "judged by model"), ("protocol", "judged with protocol"),
                      ("protocol_version", "judged with protocol version")):
        if b.get(key) != c.get(key):
            return f"{what} {b.get(key)!r} and {c.get(key)!r}"
    rb, rc = b.get("models_reported") or [], c.get("models_reported") or []
    if rb and rc and rb != rc:
        return f"answered by the server's models {rb} and {rc}"
    return None


def _run_json_partial(bm: dict, cm: dict, cand: Path) -> list[str]:
    """What the candidate's run.json says it did not run: a smaller ``limit`` or an unfinished run."""
    missing = []
    b_lim = (bm.get("spec") or {}).get("limit")
    c_lim = (cm.get("spec") or {}).get("limit")
    if c_lim is not None and (b_lim is None or c_lim < b_lim):
        missing.append(f"candidate {cand} ran with limit {c_lim} (baseline: {b_lim if b_lim is not None else 'none'})")
    status = cm.get("status")
    if status is not None and status != "complete":
        missing.append(f"candidate {cand} has run.json status {status!r}, not 'complete'")
    return missing


def _pairs(config: GateConfig, bdf: pd.DataFrame, cdf: pd.DataFrame, base: str, cand: str,
           missing: list[str]) -> list[PipelinePair]:
    bp, cp = set(bdf["pipeline"].astype(str)), set(cdf["pipeline"].astype(str))
    if config.pairs:
        for p in config.pairs:
            if p.baseline not in bp:
                raise EditbenchError(f"gate pair baseline pipeline {p.baseline!r} has no rows in {base} (it has {sorted(bp)}).")
            if p.candidate not in cp:
                raise EditbenchError(f"gate pair candidate pipeline {p.candidate!r} has no rows in {cand} (it has {sorted(cp)}).")
        return list(config.pairs)
    common = sorted(bp & cp)
    if not common:
        raise EditbenchError(f"baseline {base} (pipelines {sorted(bp)}) and candidate {cand} (pipelines {sorted(cp)}) share "
                             "no pipeline; name the pairs to compare under pairs: in a gates.yaml.")
    if bp - cp:
        missing.append(f"candidate {cand} has no rows of baseline pipeline(s) {sorted(bp - cp)}")
    return [PipelinePair(baseline=p, candidate=p) for p in common]


def _row_partial(b: pd.DataFrame, c: pd.DataFrame, pair: PipelinePair, cand: str) -> list[str]:
    """Tasks of the baseline pair the candidate did not run, and tasks it ran with fewer seeds."""
    b_seeds = b.groupby(b["task_id"].astype(str))["seed"].nunique()
    c_seeds = c.groupby(c["task_id"].astype(str))["seed"].nunique()
    lacking = sorted(set(b_seeds.index) - set(c_seeds.index))
    fewer = sorted(t for t in set(b_seeds.index) & set(c_seeds.index) if c_seeds[t] < b_seeds[t])
    out = []
    if lacking:
        out.append(f"candidate {cand} pipeline {pair.candidate!r} lacks {len(lacking)} of the {len(b_seeds)} tasks "
                   f"of baseline {pair.baseline!r} (e.g. {', '.join(lacking[:3])})")
    if fewer:
        out.append(f"candidate {cand} pipeline {pair.candidate!r} ran fewer seeds than the baseline on {len(fewer)} "
                   f"task(s) (e.g. {fewer[0]}: {c_seeds[fewer[0]]} vs {b_seeds[fewer[0]]})")
    return out


def _gated_columns(record: dict[str, dict], df: pd.DataFrame) -> list[str]:
    """Ranked metric columns (quality, latency, cost) of ``record`` with a value in ``df``; not the
    per-stage latency columns (the latency scorer's columns are what the gate compares)."""
    return [c for c in record if c in df.columns and is_ranked(record, c) and not is_stage_column(c)
            and not metric_rows(df, c, record)[c].dropna().empty]


def _same_values(b: pd.DataFrame, c: pd.DataFrame) -> bool:
    """Every (task, seed) row of both sides holds the same value (NaN equal to NaN, inf to inf), both
    sides having the same rows: the paired differences are identically zero. Sign-free by construction."""
    if len(b) == 0 or len(b) != len(c):
        return False
    j = b.merge(c, on=["task_id", "seed"], suffixes=("_b", "_c"))
    if len(j) != len(b):
        return False
    bv, cv = j["value_b"].to_numpy(dtype=np.float64), j["value_c"].to_numpy(dtype=np.float64)
    return bool(np.all((bv == cv) | (np.isnan(bv) & np.isnan(cv))))


def identical_outputs(base: Path, cand: Path, bdf: pd.DataFrame, cdf: pd.DataFrame,
                      pairs: list[PipelinePair]) -> set[str]:
    """Candidate pipelines whose output files are byte-identical to their baseline pair's on every
    (task, seed) both ran ok (at least one, and the same set of ok rows on both sides)."""
    out = set()
    for pair in pairs:
        b = bdf[(bdf["pipeline"] == pair.baseline) & (bdf["status"] == "ok")]
        c = cdf[(cdf["pipeline"] == pair.candidate) & (cdf["status"] == "ok")]
        bp = {(str(t), int(sd)): p for t, sd, p in zip(b["task_id"], b["seed"], b["output_path"]) if p}
        cp = {(str(t), int(sd)): p for t, sd, p in zip(c["task_id"], c["seed"], c["output_path"]) if p}
        if not bp or bp.keys() != cp.keys() or len(bp) != len(b) or len(cp) != len(c):
            continue
        same = True
        for k in bp:
            fb, fc = base / str(bp[k]), cand / str(cp[k])
            try:
                if fb.stat().st_size != fc.stat().st_size or fb.read_bytes() != fc.read_bytes():
                    same = False
            except OSError:
                same = False
            if not same:
                break
        if same:
            out.add(pair.candidate)
    return out


def _guardrail_results(b: pd.DataFrame, c: pd.DataFrame, pair: PipelinePair, rails: list[Guardrail],
                       record: dict[str, dict]) -> list[GuardrailResult]:
    """Per guardrail: the tasks where every baseline row passes and some candidate row fails."""
    out = []
    for rail in rails:
        if rail.column not in b.columns or rail.column not in c.columns:
            continue
        rb, rc = metric_rows(b, rail.column, record), metric_rows(c, rail.column, record)
        b_bad = {str(t) for t, v in zip(rb["task_id"], rb[rail.column]) if not rail.holds(float(v))}
        b_tasks = {str(t) for t in rb["task_id"]}
        c_bad_rows = [(str(t), v) for t, v in zip(rc["task_id"], rc[rail.column]) if not rail.holds(float(v))]
        new = sorted({t for t, _ in c_bad_rows if t in b_tasks and t not in b_bad})
        out.append(GuardrailResult(pair.baseline, pair.candidate, rail.describe(), new, len(c_bad_rows), len(rc)))
    return out


def gate(baseline: str | Path, candidate: str | Path, *, config: GateConfig | None = None,
         force: bool = False, allow_partial: bool = False) -> GateResult:
    """Compare two run directories. Never raises on bad input: the result then has ``error`` set
    (exit code 2) and still renders to gate.md / gate.json / gate-junit.xml."""
    config = config or GateConfig()
    base, cand = Path(baseline), Path(candidate)
    warnings: list[str] = []
    try:
        bm, bdf = load_run(base, duplicates="error")
        cm, cdf = load_run(cand, duplicates="error")
        _check_suites(bm, cm, base, cand, force, warnings)
        brec = _record(base, bm, bdf.columns, f"baseline {base}", warnings)
        crec = _record(cand, cm, cdf.columns, f"candidate {cand}", warnings)
        _check_records(brec, crec, base, cand)
        if config.gated == "best-agreeing":
            chosen, why = best_agreeing_metric(base, bdf, brec)
            brec = {m: {**r, "primary": m == chosen} for m, r in brec.items()}
            warnings.append(why + ".")
        if bm.get("status") not in (None, "complete"):
            warnings.append(f"baseline {base} has run.json status {bm.get('status')!r}, not 'complete'.")
        choice = primary_choice(bm, brec)
        if isinstance(bm.get("goal"), dict) and not choice.rankable:
            raise EditbenchError(f"suite {(bm.get('suite') or {}).get('name')!r} is not rankable: {choice.why}; the gate "
                                 "refuses to gate a primary that does not measure the suite's goal (add what it needs, "
                                 "or declare primary: in the suite).")
        pairs = _pairs(config, bdf, cdf, str(base), str(cand), [])
        res = compare(bdf, cdf, config=config, baseline=str(base), candidate=str(cand), record=brec,
                      allow_partial=allow_partial, partial=_run_json_partial(bm, cm, cand),
                      identical=identical_outputs(base, cand, bdf, cdf, pairs), goal=choice.goal,
                      companions=choice.companions)
    except EditbenchError as e:
        return GateResult(baseline=str(base), candidate=str(cand), config=config.model_dump(), warnings=warnings,
                          error=str(e))
    res.warnings = warnings + res.warnings
    res.changes, res.titles = config_diff(bm, cm), (run_title(bm), run_title(cm))
    if bm.get("hardware") != cm.get("hardware"):
        res.warnings.append("baseline and candidate ran on different hardware (run.json hardware): latency differences "
                            "may come from the machine.")
    return res


def error_result(baseline: str | Path, candidate: str | Path, message: str,
                 config: GateConfig | None = None) -> GateResult:
    """The result of a gate that could not compare (e.g. an invalid gates.yaml): exit 2 with files."""
    return GateResult(baseline=str(baseline), candidate=str(candidate), config=(config or GateConfig()).model_dump(),
                      error=message)


def compare(bdf: pd.DataFrame, cdf: pd.DataFrame, *, config: GateConfig | None = None,
            baseline: str = "baseline", candidate: str = "candidate", record: dict[str, dict] | None = None,
            allow_partial: bool = False, partial: list[str] | None = None, identical: set[str] = frozenset(),
            goal: str | None = None, companions: tuple[str, ...] = ()) -> GateResult:
    """Gate the result rows ``cdf`` against ``bdf`` (no file access; ``baseline``/``candidate`` name them).

    ``record``: the baseline's run.json ``metrics`` record (default: today's scorer definitions).
    ``partial``: what the candidate's run.json says it left out. ``identical``: candidate pipelines whose
    outputs are byte-identical to their baseline's (:func:`identical_outputs`); their quality metrics
    leave the family. ``goal``/``companions``: the baseline's suite goal (its guardrails are gated) and
    the primary's companions (gated with it). Raises EditbenchError on unusable input, including a
    partial candidate unless ``allow_partial``.
    """
    config = config or GateConfig()
    base, cand = baseline, candidate
    if record is None:
        record = registry_record()
    res = GateResult(baseline=base, candidate=cand, config=config.model_dump())
    missing = list(partial or [])
    pairs = _pairs(config, bdf, cdf, base, cand, missing)
    if not set(bdf["task_id"].astype(str)) & set(cdf["task_id"].astype(str)):
        raise EditbenchError(f"baseline {base} and candidate {cand} share no task_id; nothing to compare.")
    b_sel = bdf[bdf["pipeline"].isin([p.baseline for p in pairs])]
    metrics = _gated_columns(record, b_sel)
    named = [k for k, r in config.metrics.items() if not any(ch in k for ch in "*?[") and not r.ignore]
    for m in named:
        if m not in metrics:
            raise EditbenchError(f"gate config names metric {m!r} but baseline {base} has no value for it "
                                 f"(its metrics are {metrics}).")
    if not metrics:
        raise EditbenchError(f"baseline {base} has no metric values to gate (no ok rows with real or trained weights).")
    primary = primary_metric(record)
    if config.gated in ("primary", "best-agreeing") and primary not in metrics:
        raise EditbenchError(f"gates.yaml says gated: primary but the baseline {base} run.json marks "
                             f"{'no primary metric' if primary is None else f'primary {primary!r}, which has no values'}.")
    measured = b_sel[(b_sel["status"] == "ok") & (b_sel["weights"] != "random")]
    if primary is not None and primary not in metrics and len(measured):
        raise EditbenchError(f"the baseline {base} primary metric {primary!r} has no finite value on any of its "
                             f"{len(measured)} measured ok rows (its scorer returned NaN or did not run); the gate does "
                             "not pass a suite whose primary measured nothing.")
    rails = guardrails_for(goal, set(bdf.columns) & set(cdf.columns))
    always = {r.column for r in rails} | set(companions)     # gated whatever ``gated`` says
    pending = []
    infinite: set[int] = set()   # ids of the pending results whose metric has +-inf rows
    for pair in pairs:
        b = bdf[bdf["pipeline"] == pair.baseline]
        c = cdf[cdf["pipeline"] == pair.candidate]
        missing += _row_partial(b, c, pair, cand)
        res.failures.append(_failures(b, c, pair, config.max_new_failure_rate))
        res.guardrails += _guardrail_results(b, c, pair, rails, record)
        for m in metrics:
            rule = config.rule(m)
            direction = rule.direction or record[m]["direction"]
            if record[m].get("role") != "latency" and set(b[b["status"] == "ok"]["weights"]) == {"random"}:
                continue  # random weights: quality is never compared
            c_rows = metric_rows(c, m, record)
            if len(c_rows) and (m not in c_rows.columns or c_rows[m].dropna().empty):
                missing.append(f"candidate {cand} has no value for metric {m!r} of pipeline {pair.candidate!r}, "
                               f"which baseline {base} has (run the candidate with the same scorers)")
            b_vals, c_vals = value_rows(b, m, record), value_rows(c, m, record)
            diff = difference_ci_rows(b_vals, c_vals, confidence=config.confidence)
            tol = max(rule.abs_tol, rule.rel_tol * abs(diff.baseline)) if math.isfinite(diff.baseline) else rule.abs_tol
            gated = not rule.ignore and (config.gated == "all" or m == primary or m in always)
            excluded = ""
            if record[m].get("role", "quality") == "quality":   # decided on equality alone, never on the sign
                if _same_values(b_vals, c_vals):
                    excluded = "identical values"
                elif pair.candidate in identical:
                    excluded = "identical outputs"
                    res.warnings.append(f"{m} of {pair.candidate} differs from the baseline although every output is "
                                        "byte-identical: the scorer is not deterministic (left out of the family).")
            sign = 1.0 if direction == "higher" else -1.0
            p_reg = float(one_sided_p(-sign * diff.diff, diff.se, diff.df, tol))
            p_imp = float(one_sided_p(sign * diff.diff, diff.se, diff.df, tol))
            pending.append(MetricResult(pair.baseline, pair.candidate, m, direction, tol, "no data", gated, diff,
                                        record[m].get("role", "quality"), p_reg, p_reg, p_imp, p_imp,
                                        excluded=excluded))
            n_inf_b, n_inf_c = _n_infinite(b, m, record), _n_infinite(c, m, record)
            if n_inf_b or n_inf_c:
                res.warnings.append(f"{m} of {pair.candidate}: {n_inf_b} baseline and {n_inf_c} candidate rows are "
                                    "+-inf and are left out of the comparison.")
                infinite.add(id(pending[-1]))
    if missing:
        msg = "; ".join(missing)
        if not allow_partial:
            raise EditbenchError(f"the candidate is partial: {msg} (pass --allow-partial to gate what both ran).")
        res.warnings.append(f"partial candidate (--allow-partial): {msg}.")
    for m in pending:
        if m.excluded:
            m.gated = False
    family_members = [m for m in pending if m.gated]
    weights = family_weights(family_members, primary, config.primary_weight)
    for group, w in ((family_members, weights), ([m for m in pending if not m.gated], None)):
        if not group:
            continue
        family = config.family if group[0].gated else "none"   # advisory verdicts: each at its own level
        verdicts, a_reg, a_imp = decide([m.p_regressed for m in group], [m.p_improved for m in group],
                                        config.alpha, family, w)
        for m, v, r, i in zip(group, verdicts, a_reg, a_imp):
            m.verdict, m.p_regressed_adj, m.p_improved_adj = v, float(r), float(i)
    for m in pending:
        if m.excluded:
            m.verdict = "no change"
    _detectable(family_members, weights, config)
    n_shared = len(set(bdf["task_id"].astype(str)) & set(cdf["task_id"].astype(str)))
    if n_shared < config.small_suite:
        res.warnings.append(f"the suite has {n_shared} shared task(s) (under {config.small_suite}): this gate cannot detect a "
                            "regression smaller than the 'detectable' column (80 % power); a pass here is weak evidence.")
    for m in pending:   # rows exist but none finite on both sides: a failure, never a silent "no data"
        if m.verdict == "no data" and id(m) in infinite:
            m.verdict = "non-finite"
    res.metrics = pending
    compared = [m for m in pending if (m.gated or m.excluded) and m.verdict != "no data"]
    if not compared and not any(f.failed for f in res.failures) and not any(g.failed for g in res.guardrails):
        raise EditbenchError(f"the gate compared nothing: no gated metric of candidate {cand} has values on two or more "
                             f"tasks it shares with baseline {base}, and no failure rate rose.")
    return res


def family_weights(members: list[MetricResult], primary: str | None, primary_weight: float) -> np.ndarray | None:
    """Weighted Holm weights of the gated verdicts: the primary's verdicts (one per pipeline pair) share
    ``primary_weight``, the others the rest; equal weights (plain Holm) when no verdict is the primary
    or every verdict is."""
    is_p = np.array([m.metric == primary for m in members], dtype=bool)
    if not members or is_p.all() or not is_p.any():
        return None
    w = np.where(is_p, primary_weight / is_p.sum(), (1 - primary_weight) / (~is_p).sum())
    return w


def _detectable(members: list[MetricResult], weights: np.ndarray | None, config: GateConfig) -> None:
    """Per gated verdict: its first-step level and the bad-side shift detected with 80 % power there."""
    if not members:
        return
    w = np.full(len(members), 1.0 / len(members)) if weights is None else np.asarray(weights) / np.sum(weights)
    if config.family == "none":
        w = np.ones(len(members))
    for m, wi in zip(members, w):
        m.weight, m.level = float(wi), float(config.alpha * wi)
        d = m.diff
        units = d.df + 1
        if m.level > 0 and units >= 2 and math.isfinite(d.se):
            m.detectable = float(detectable_shift(d.se * math.sqrt(units), units, m.level, tol=m.tolerance))


# ----------------------------------------------------------------------------------------------- output

def to_json(res: GateResult) -> dict:
    return {
        "verdict": res.status,
        "exit_code": res.exit_code,
        "summary": res.summary(),
        "error": res.error,
        "baseline": res.baseline,
        "candidate": res.candidate,
        "warnings": res.warnings,
        "changes": res.changes,
        "runs": {"baseline": res.titles[0], "candidate": res.titles[1]},
        "config": res.config,
        "metrics": [{**{k: v for k, v in asdict(m).items() if k != "diff"}, **asdict(m.diff)} for m in res.metrics],
        "failures": [{**asdict(f), "rise": f.rise} for f in res.failures],
        "guardrails": [{**asdict(g), "failed": g.failed} for g in res.guardrails],
    }


def to_markdown(res: GateResult) -> str:
    conf = res.config["confidence"]
    n_gated = sum(m.gated for m in res.metrics)
    n_out = sum(bool(m.excluded) for m in res.metrics)
    pw = res.config.get("primary_weight", 0.5)
    family = (f"weighted Holm over the {n_gated} gated verdicts (the primary's share of α: {pw:g}; "
              f"{n_out} verdict(s) with identical values or outputs left out)" if res.config.get("family") == "holm"
              else "each metric on its own")
    lines = [f"# Gate: {md(res.summary())}", "", md(paragraph(res)), ""]
    lines += [f"baseline {md(res.baseline)} · candidate {md(res.candidate)} · "
              f"{conf:.0%} paired t interval of the task-mean difference (candidate − baseline; seeds averaged within "
              f"tasks) · regressed = one-sided p < {(1 - conf) / 2:.3g} against the tolerance, {family}.", ""]
    lines += [f"> warning: {md(w)}" for w in res.warnings]
    lines += changes_section(res)
    if res.error is not None:
        lines += ["", f"**Unusable input (exit 2):** {md(res.error)}"]
        return "\n".join(lines) + "\n"
    lines += ["", "| pipeline (baseline → candidate) | metric | dir | baseline | candidate | diff [CI] | tolerance | "
              "p regressed (adj.) | detectable (80 %) | n | verdict |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in res.metrics:
        d = m.diff
        v = (m.verdict if m.gated else f"{m.verdict} ({m.excluded})" if m.excluded else f"{m.verdict} (advisory)")
        det = (f"{m.detectable:.3g}" if math.isfinite(m.detectable) else
               "after the primary" if m.gated and m.level == 0 else "—")
        bold = f"**{v}**" if m.gated and m.verdict in ("regressed", "non-finite") else v
        lines.append(f"| {md(m.baseline_pipeline)} → {md(m.candidate_pipeline)} | {md(m.metric)} | {m.direction} | "
                     f"{d.baseline:.4g} | "
                     f"{d.candidate:.4g} | {d.diff:+.4g} [{d.lo:+.4g}, {d.hi:+.4g}] | {m.tolerance:.4g} | "
                     f"{m.p_regressed:.3g} ({m.p_regressed_adj:.3g}) | {det} | "
                     f"{d.n_tasks} tasks / {d.n_pairs} {'pairs' if d.paired else 'rows'} | {bold} |")
    lines += ["", "| pipeline | baseline error+timeout | candidate error+timeout | rise | allowed | new failures | verdict |",
              "|---|---|---|---|---|---|---|"]
    for f in res.failures:
        new = md(", ".join(f.new_failures[:10])) + (" …" if len(f.new_failures) > 10 else "")
        lines.append(f"| {md(f.baseline_pipeline)} → {md(f.candidate_pipeline)} | {f.baseline_failed}/{f.baseline_rows} | "
                     f"{f.candidate_failed}/{f.candidate_rows} | {f.rise:+.3f} | {f.threshold:.3f} | {new or '—'} | "
                     f"{'**regressed**' if f.failed else 'ok'} |")
    if res.guardrails:
        lines += ["", "Guardrails (always gated: a task where every baseline row passed and a candidate row fails "
                  "breaks it):", "", "| pipeline | guardrail | candidate rows failing | tasks newly broken | verdict |",
                  "|---|---|---|---|---|"]
        for g in res.guardrails:
            new = md(", ".join(g.new_failures[:10])) + (" …" if len(g.new_failures) > 10 else "")
            lines.append(f"| {md(g.baseline_pipeline)} → {md(g.candidate_pipeline)} | {md(g.rule)} | "
                         f"{g.candidate_failed_rows}/{g.candidate_rows} | {new or '—'} | "
                         f"{'**broken**' if g.failed else 'ok'} |")
    return "\n".join(lines) + "\n"


def paragraph(res: GateResult) -> str:
    """One paragraph for a chat message: the verdict, what was compared, what regressed, what changed."""
    if res.error is not None:
        return f"Gate ERROR (exit 2): {res.error}"
    gated = [m for m in res.metrics if m.gated]
    tasks = max((m.diff.n_tasks for m in res.metrics), default=0)
    runs = f"candidate {res.titles[1] or res.candidate} against baseline {res.titles[0] or res.baseline}"
    text = (f"Gate {res.status.upper()}: {runs}, {len(gated)} gated metric verdicts over {tasks} tasks; "
            f"{res.summary().split(': ', 1)[-1]}")
    if res.changes:
        more = f" (+{len(res.changes) - 3} more)" if len(res.changes) > 3 else ""
        text += f" Changed: {'; '.join(res.changes[:3])}{more}."
    return text


def to_terminal(res: GateResult, *, files: str) -> str:
    """What ``editbench gate`` prints: the paragraph, warnings and where the full table is."""
    lines = [paragraph(res), *[f"warning: {w}" for w in res.warnings]]
    if res.error is None:
        lines.append(f"full table: {files}/gate.md (also gate.json, gate-junit.xml)")
    return "\n".join(lines) + "\n"


def changes_section(res: GateResult) -> list[str]:
    """Markdown lines: the runs by name, and what changed between their configurations."""
    if not any(res.titles) and not res.changes:
        return []
    lines = ["", f"Runs: baseline {md(res.titles[0])} · candidate {md(res.titles[1])}.", "",
             "## What changed between the runs", ""]
    return lines + ([f"- {md(c)}" for c in res.changes] or ["- nothing in run.json (same pipelines, options, weights, "
                                                           "suite, seeds, scorers and package versions)"])


def to_junit(res: GateResult) -> str:
    import xml.etree.ElementTree as ET

    cases = []
    if res.error is not None:
        case = ET.Element("testcase", classname="editbench.gate", name="input")
        ET.SubElement(case, "error", message="unusable input", type="input").text = res.error
        cases.append(case)
    for m in res.metrics:
        case = ET.Element("testcase", classname=f"editbench.gate.{m.candidate_pipeline}", name=m.metric)
        if m.gated and m.verdict in ("regressed", "non-finite"):
            ET.SubElement(case, "failure", message=f"{m.metric} {m.verdict}", type="regression").text = m.describe()
        elif not m.gated or m.verdict == "no data":
            ET.SubElement(case, "skipped", message=m.verdict if m.gated else "advisory (not gated)")
        else:
            ET.SubElement(case, "system-out").text = m.describe()
        cases.append(case)
    for f in res.failures:
        case = ET.Element("testcase", classname=f"editbench.gate.{f.candidate_pipeline}", name="errors_and_timeouts")
        if f.failed:
            ET.SubElement(case, "failure", message="more errors/timeouts", type="regression").text = (
                f"{f.candidate_failed}/{f.candidate_rows} failed rows vs {f.baseline_failed}/{f.baseline_rows} in the "
                f"baseline (rise {f.rise:+.3f} > {f.threshold:.3f}); new: {', '.join(f.new_failures[:20])}")
        cases.append(case)
    for g in res.guardrails:
        case = ET.Element("testcase", classname=f"editbench.gate.{g.candidate_pipeline}", name=f"guardrail {g.rule}")
        if g.failed:
            ET.SubElement(case, "failure", message=f"guardrail {g.rule} broken", type="guardrail").text = (
                f"{len(g.new_failures)} task(s) where the baseline kept it: {', '.join(g.new_failures[:20])}")
        cases.append(case)
    suite = ET.Element("testsuite", name="editbench-gate", tests=str(len(cases)),
                       failures=str(sum(c.find("failure") is not None for c in cases)),
                       errors=str(sum(c.find("error") is not None for c in cases)),
                       skipped=str(sum(c.find("skipped") is not None for c in cases)))
    suite.extend(cases)
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write_gate(res: GateResult, out: str | Path) -> list[Path]:
    """Write gate.json, gate.md and gate-junit.xml into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"gate.json": json.dumps(_finite(to_json(res)), indent=2, default=_json_default, allow_nan=False),
             "gate.md": to_markdown(res), "gate-junit.xml": to_junit(res)}
    for name, text in files.items():
        atomic_write_text(out / name, text, root=out)
    return [out / n for n in files]


def _finite(o):
    """NaN/inf -> None, so gate.json is strict JSON."""
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    if isinstance(o, (float, np.floating)) and not math.isfinite(o):
        return None
    return o


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)
