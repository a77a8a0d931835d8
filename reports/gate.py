"""The regression gate: is a candidate run worse than a baseline run, beyond tolerance and noise?

For every compared pipeline pair (same name in both runs by default; ``pairs:`` in gates.yaml for a
model swap) and every metric, rows are paired by (task_id, seed) and the task-clustered bootstrap CI
of mean(candidate) - mean(baseline) is computed (:func:`reports.stats.difference_ci`). With the
metric's direction (``scorers.base.metric_directions``) and tolerance
``tol = max(abs_tol, rel_tol * |baseline mean|)``:

- ``regressed``  the whole CI lies beyond ``tol`` on the bad side (e.g. lower bound > +tol for a
  lower-is-better metric);
- ``improved``   the whole CI lies beyond ``tol`` on the good side;
- ``no change``  otherwise.

The gate also fails when the share of error/timeout rows of a pipeline grows by more than
``max_new_failure_rate``. Unusable input (missing run.json, an empty run, different suites or suite
content without ``--force``, a metric the candidate lacks) raises EditbenchError (CLI exit 2).
Outputs: gate.json, gate.md and gate-junit.xml.
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
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import EditbenchError, format_validation_error
from reports.leaderboard import is_latency_metric, metric_columns, metric_rows
from reports.results import load_run
from reports.stats import DEFAULT_N_BOOT, DEFAULT_SEED, Difference, difference_ci
from scorers.base import metric_directions

Verdict = Literal["regressed", "improved", "no change", "no data"]


class MetricRule(BaseModel):
    """Gate rule of one metric (or a glob of metrics such as ``latency.*``)."""

    model_config = ConfigDict(extra="forbid")

    abs_tol: float = 0.0                          # tolerated change in metric units
    rel_tol: float = 0.0                          # tolerated change as a share of |baseline mean|
    direction: Literal["higher", "lower"] | None = None   # None: the scorer's declared direction
    ignore: bool = False                          # not gated (still reported)


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

    confidence: float = Field(0.95, gt=0, lt=1)   # two-sided CI level of the mean difference
    n_boot: int = Field(DEFAULT_N_BOOT, ge=100)   # bootstrap replicates
    seed: int = DEFAULT_SEED                      # bootstrap RNG seed (reproducible verdicts)
    max_new_failure_rate: float = Field(0.0, ge=0, le=1)  # allowed rise in the share of error+timeout rows
    pairs: list[PipelinePair] = Field(default_factory=list)   # empty: pipelines with the same name
    metrics: dict[str, MetricRule] = Field(default_factory=dict)

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
    if not path.is_file():
        raise EditbenchError(f"gate config {path} does not exist.")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise EditbenchError(f"gate config {path} is not valid YAML: {e}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise EditbenchError(f"gate config {path} must hold a mapping at the top level.")
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

    def describe(self) -> str:
        d = self.diff
        return (f"{self.metric} ({self.direction} is better) of {self.candidate_pipeline} vs {self.baseline_pipeline}: "
                f"{d.baseline:.4g} -> {d.candidate:.4g}, diff {d.diff:+.4g} [{d.lo:+.4g}, {d.hi:+.4g}], "
                f"tolerance {self.tolerance:.4g}, n = {d.n_tasks} tasks / {d.n_pairs} {'pairs' if d.paired else 'rows'}")


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
class GateResult:
    baseline: str
    candidate: str
    config: dict
    metrics: list[MetricResult] = field(default_factory=list)
    failures: list[FailureResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> list[MetricResult]:
        return [m for m in self.metrics if m.gated and m.verdict == "regressed"]

    @property
    def passed(self) -> bool:
        return not self.regressed and not any(f.failed for f in self.failures)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def summary(self) -> str:
        if self.passed:
            imp = [m for m in self.metrics if m.verdict == "improved"]
            extra = f"; improved: {', '.join(f'{m.metric} ({m.candidate_pipeline})' for m in imp)}" if imp else ""
            return f"PASS: no regression{extra}."
        parts = [f"{m.metric} ({m.candidate_pipeline})" for m in self.regressed]
        parts += [f"failures of {f.candidate_pipeline} ({f.candidate_failed}/{f.candidate_rows} rows)"
                  for f in self.failures if f.failed]
        return "FAIL: regressed: " + ", ".join(parts) + "."


def verdict(diff: Difference, direction: str, tol: float) -> Verdict:
    """Regressed/improved only when the whole CI lies beyond ``tol`` on one side."""
    if diff.n_tasks == 0 or not (math.isfinite(diff.lo) and math.isfinite(diff.hi)):
        return "no data"
    sign = 1.0 if direction == "higher" else -1.0     # positive = better
    good_lo, good_hi = sorted((sign * diff.lo, sign * diff.hi))
    if good_hi < -tol:
        return "regressed"
    if good_lo > tol:
        return "improved"
    return "no change"


def _by_task_seed(df: pd.DataFrame, metric: str) -> dict[str, dict[int, float]]:
    rows = metric_rows(df, metric)
    rows = rows[rows[metric].notna()]
    out: dict[str, dict[int, float]] = {}
    for t, s, v in zip(rows["task_id"], rows["seed"], rows[metric]):
        out.setdefault(str(t), {})[int(s)] = float(v)
    return out


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


def _pairs(config: GateConfig, bdf: pd.DataFrame, cdf: pd.DataFrame, base: Path, cand: Path) -> list[PipelinePair]:
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
    return [PipelinePair(baseline=p, candidate=p) for p in common]


def gate(baseline: str | Path, candidate: str | Path, *, config: GateConfig | None = None,
         force: bool = False) -> GateResult:
    """Compare two run directories; raises EditbenchError on unusable input."""
    config = config or GateConfig()
    base, cand = Path(baseline), Path(candidate)
    bm, bdf = load_run(base)
    cm, cdf = load_run(cand)
    warnings: list[str] = []
    _check_suites(bm, cm, base, cand, force, warnings)
    res = compare(bdf, cdf, config=config, baseline=str(base), candidate=str(cand))
    res.warnings = warnings + res.warnings
    if bm.get("hardware") != cm.get("hardware"):
        res.warnings.append("baseline and candidate ran on different hardware (run.json hardware): latency differences "
                            "may come from the machine.")
    return res


def compare(bdf: pd.DataFrame, cdf: pd.DataFrame, *, config: GateConfig | None = None,
            baseline: str = "baseline", candidate: str = "candidate") -> GateResult:
    """Gate the result rows ``cdf`` against ``bdf`` (no file access; ``baseline``/``candidate`` name them)."""
    config = config or GateConfig()
    base, cand = baseline, candidate
    res = GateResult(baseline=base, candidate=cand, config=config.model_dump())
    pairs = _pairs(config, bdf, cdf, base, cand)
    if not set(bdf["task_id"].astype(str)) & set(cdf["task_id"].astype(str)):
        raise EditbenchError(f"baseline {base} and candidate {cand} share no task_id; nothing to compare.")
    directions = metric_directions()
    b_sel = bdf[bdf["pipeline"].isin([p.baseline for p in pairs])]
    c_sel = cdf[cdf["pipeline"].isin([p.candidate for p in pairs])]
    metrics = [m for m in metric_columns(b_sel) if not metric_rows(b_sel, m)[m].dropna().empty]
    named = [k for k, r in config.metrics.items() if not any(ch in k for ch in "*?[") and not r.ignore]
    for m in named:
        if m not in metrics:
            raise EditbenchError(f"gate config names metric {m!r} but baseline {base} has no value for it "
                                 f"(its metrics are {metrics}).")
    if not metrics:
        raise EditbenchError(f"baseline {base} has no metric values to gate (no ok rows with real or trained weights).")
    c_ok = c_sel[c_sel["status"] == "ok"]
    for m in metrics:
        if len(c_ok) and (m not in c_ok.columns or c_ok[m].dropna().empty):
            raise EditbenchError(f"candidate {cand} has no value for metric {m!r}, which baseline {base} has "
                                 "(run the candidate with the same scorers).")
    for pair in pairs:
        b = bdf[bdf["pipeline"] == pair.baseline]
        c = cdf[cdf["pipeline"] == pair.candidate]
        res.failures.append(_failures(b, c, pair, config.max_new_failure_rate))
        for m in metrics:
            rule = config.rule(m)
            direction = rule.direction or directions[m]
            if not is_latency_metric(m) and (set(b[b["status"] == "ok"]["weights"]) == {"random"}):
                continue  # random weights: quality is never compared
            diff = difference_ci(_by_task_seed(b, m), _by_task_seed(c, m), confidence=config.confidence,
                                 n_boot=config.n_boot, seed=config.seed)
            tol = max(rule.abs_tol, rule.rel_tol * abs(diff.baseline)) if math.isfinite(diff.baseline) else rule.abs_tol
            res.metrics.append(MetricResult(pair.baseline, pair.candidate, m, direction, tol,
                                            verdict(diff, direction, tol), not rule.ignore, diff))
    return res


# ----------------------------------------------------------------------------------------------- output

def to_json(res: GateResult) -> dict:
    return {
        "verdict": "pass" if res.passed else "regressed",
        "exit_code": res.exit_code,
        "summary": res.summary(),
        "baseline": res.baseline,
        "candidate": res.candidate,
        "warnings": res.warnings,
        "config": res.config,
        "metrics": [{**{k: v for k, v in asdict(m).items() if k != "diff"}, **asdict(m.diff)} for m in res.metrics],
        "failures": [{**asdict(f), "rise": f.rise} for f in res.failures],
    }


def to_markdown(res: GateResult) -> str:
    conf = res.config["confidence"]
    lines = [f"# Gate: {res.summary()}", "", f"baseline `{res.baseline}` · candidate `{res.candidate}` · "
             f"{conf:.0%} paired bootstrap CI of the task-mean difference (candidate − baseline), clustered by task.", ""]
    lines += [f"> warning: {w}" for w in res.warnings]
    lines += ["", "| pipeline (baseline → candidate) | metric | dir | baseline | candidate | diff [CI] | tolerance | n | verdict |",
              "|---|---|---|---|---|---|---|---|---|"]
    for m in res.metrics:
        d = m.diff
        v = m.verdict if m.gated else f"{m.verdict} (ignored)"
        bold = f"**{v}**" if m.gated and m.verdict == "regressed" else v
        lines.append(f"| {m.baseline_pipeline} → {m.candidate_pipeline} | {m.metric} | {m.direction} | {d.baseline:.4g} | "
                     f"{d.candidate:.4g} | {d.diff:+.4g} [{d.lo:+.4g}, {d.hi:+.4g}] | {m.tolerance:.4g} | "
                     f"{d.n_tasks} tasks / {d.n_pairs} {'pairs' if d.paired else 'rows'} | {bold} |")
    lines += ["", "| pipeline | baseline error+timeout | candidate error+timeout | rise | allowed | new failures | verdict |",
              "|---|---|---|---|---|---|---|"]
    for f in res.failures:
        new = ", ".join(f.new_failures[:10]) + (" …" if len(f.new_failures) > 10 else "")
        lines.append(f"| {f.baseline_pipeline} → {f.candidate_pipeline} | {f.baseline_failed}/{f.baseline_rows} | "
                     f"{f.candidate_failed}/{f.candidate_rows} | {f.rise:+.3f} | {f.threshold:.3f} | {new or '—'} | "
                     f"{'**regressed**' if f.failed else 'ok'} |")
    return "\n".join(lines) + "\n"


def to_junit(res: GateResult) -> str:
    import xml.etree.ElementTree as ET

    cases = []
    for m in res.metrics:
        case = ET.Element("testcase", classname=f"editbench.gate.{m.candidate_pipeline}", name=m.metric)
        if m.gated and m.verdict == "regressed":
            ET.SubElement(case, "failure", message=f"{m.metric} regressed", type="regression").text = m.describe()
        elif not m.gated or m.verdict == "no data":
            ET.SubElement(case, "skipped", message=m.verdict if m.gated else "ignored by gate config")
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
    suite = ET.Element("testsuite", name="editbench-gate", tests=str(len(cases)),
                       failures=str(sum(c.find("failure") is not None for c in cases)),
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
        (out / name).write_text(text, encoding="utf-8")
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
