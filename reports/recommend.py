"""``editbench report --recommend DIR``: a skill file saying which pipeline and settings to use per task kind.

For every task kind in the run: the pipelines ranked by the run's primary metric (run.json ``primary``;
task mean with its 95 % Student-t interval and n), the recommended pipeline's options from run.json and, for each sweep
axis the run declares (run.json ``sweep``, e.g. ``mask_dilate``), the best pipeline at each value. The
recommendation never contradicts its evidence: it names a winner only when the paired difference CI
says the best is measurably ahead of every other pipeline (:mod:`reports.ranking`); otherwise it says
there is none and names the fastest of the tied as "fastest" (never "use"). Directions and roles
come from the run's own ``metrics`` record. A QA checklist lists the metrics whose per-row values failed
their thresholds (:data:`THRESHOLDS`, overridable with a YAML file) for the recommended pipeline.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.contract.results import load_run
from harness.contract.spec import read_yaml
from harness.core.errors import EditbenchError
from harness.core.storage import atomic_write_text
from reports.format import fmt, fmt_estimate, fmt_ms
from reports.leaderboard import entries
from reports.markdown import code, format_markdown, md
from reports.ranking import run_ranking, simple_pipelines
from reports.rows import metric_columns, metric_rows
from reports.stats import task_mean_ci_rows
from scorers.columns import direction, read_metrics, sweep_columns

# Per-row acceptance thresholds: metric -> (op, value, what to check when it fails), each in its metric's
# own units (run.json metrics[...].range and unit; a threshold outside the range is refused). Starting
# points for the built-in scorers; pass --thresholds FILE (YAML {metric: {max|min: value, advice: text}}).
THRESHOLDS: dict[str, tuple[str, float, str]] = {
    "toy.wrong_cluster": ("max", 0.05, "regenerated dims disagree with the known dims' cluster: raise sampling "
                                       "steps or RePaint resampling (jump_length/resample)"),
    "toy.masked_residual": ("max", 0.30, "regenerated dims far from the source cluster: check the mask fraction "
                                         "the pipeline can handle"),
    "seam.score": ("max", 0.10, "visible seam at the mask border: dilate or feather the mask"),
    "background.psnr": ("min", 30.0, "pixels outside the mask changed: paste the source back outside the mask"),
    "identity.cosine": ("min", 0.40, "identity drift: raise the identity/reference weight or lower SDEdit strength"),
    "pose.oks": ("min", 0.50, "pose not followed: raise the ControlNet conditioning scale"),
    "clip.score": ("min", 20.0, "edit does not follow the prompt: raise guidance or strength"),  # 0-100 scale
}


def load_thresholds(path: str | Path | None) -> dict[str, tuple[str, float, str]]:
    th = dict(THRESHOLDS)
    if path is None:
        return th
    path = Path(path)
    data = read_yaml(path, what="thresholds file") or {}
    if not isinstance(data, dict):
        raise EditbenchError(f"thresholds file {path} must map metric names to {{max|min: value, advice: text}}.")
    for m, spec in data.items():
        if not isinstance(spec, dict) or len({"max", "min"} & spec.keys()) != 1:
            raise EditbenchError(f"thresholds file {path}: entry {m!r} needs exactly one of max: or min:.")
        op = "max" if "max" in spec else "min"
        th[m] = (op, float(spec[op]), str(spec.get("advice", "")))
    return th


def check_thresholds(thresholds: dict[str, tuple[str, float, str]], record: dict[str, dict], *, where: str) -> None:
    """Refuse a threshold outside its metric's range (e.g. 0.2 for a 0-100 score would always pass)."""
    for m, (op, value, _) in thresholds.items():
        lo, hi = (record.get(m, {}).get("range") or [None, None])
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            unit = record[m].get("unit") or "no unit"
            raise EditbenchError(f"{where}: threshold {op} {value:g} for {m} lies outside its range "
                                 f"[{lo}, {hi}] ({unit}); write thresholds in the metric's own units.")


def _options(meta: dict) -> dict[str, dict]:
    return {str(p.get("label") or p.get("name")): p for p in meta.get("pipelines", [])}


def _estimate(rows: pd.DataFrame, col: str):
    return task_mean_ci_rows(rows["task_id"].to_numpy(), rows[col].to_numpy(dtype=float))


def _best(scored: list[tuple[str, object]], direction: str) -> list[tuple[str, object]]:
    sign = -1.0 if direction == "higher" else 1.0
    return sorted((x for x in scored if x[1].ok), key=lambda x: sign * x[1].mean)


def recommend_kind(kind: str, df: pd.DataFrame, meta: dict, metric: str | None,
                   thresholds: dict[str, tuple[str, float, str]]) -> list[str]:
    record = read_metrics(None, meta, df.columns)
    real = df[df["weights"] != "random"]
    lines = [f"## Task kind: {md(kind)}", ""]
    ranking = run_ranking(real, entries(real, record=record), record, meta, metric=metric)
    simple = simple_pipelines(meta)
    sentence = ranking.sentence(simple)
    if ranking.verdict == "none" and not ranking.ranked:
        return lines + [f"**{md(sentence)}**", ""]
    m = ranking.metric
    d = direction(record, m)
    pick, _ = ranking.choice(simple)
    pick = pick or ranking.ranked[0]
    best, est = pick.pipeline, pick.entry.metrics[m]
    opts = _options(meta).get(best, {})
    what = (f"(pipeline {code(opts.get('name', best))}, options {code(opts.get('options', {}))}, weights "
            f"{code(opts.get('weights'))}): {md(m)} ({'higher' if d == 'higher' else 'lower'} is better) = "
            f"{fmt_estimate(est)}, n = {est.n_tasks} tasks / {est.n_rows} rows; median latency {fmt_ms(pick.p50_ms)}.")
    if ranking.verdict == "best":
        lines += [f"**Use {code(best)}** {what} {md(sentence)}", ""]
    elif ranking.verdict == "tied":
        lines += [f"**No measurable winner.** {md(sentence)} The fastest of the tied, {code(best)} {what}", ""]
    else:
        lines += [f"**{md(sentence)}**", ""]
    note = ranking.cannot_detect()
    if note:
        lines += [f"What it cannot detect: {md(note)}", ""]
    top = ranking.ranked[0]
    for r in ranking.ranked[1:]:
        diff = r.diff
        verdict = "measurably worse" if r.worse else "not measurably different"
        if r.guardrails:
            verdict += f"; fails {', '.join(r.guardrails)}"
        lines.append(f"- {code(r.pipeline)} vs #1 on {md(m)}, {code(top.pipeline)}: difference {diff.diff:+.4g} "
                     f"[{diff.lo:+.4g}, {diff.hi:+.4g}] over {diff.n_tasks} tasks — {verdict}; median latency "
                     f"{fmt_ms(r.p50_ms)}.")
    lines.append("")
    cols = metric_columns(df, record)
    head = ["pipeline", *[f"{c} {'↑' if direction(record, c) == 'higher' else '↓'}" for c in cols], "n rows ok"]
    rows = []
    for p in [r.pipeline for r in ranking.ranked]:
        g = df[df["pipeline"] == p]
        rows.append([p, *[fmt_estimate(_estimate(metric_rows(g, c, record), c))
                          for c in cols], str(int((g["status"] == "ok").sum()))])
    lines += ["Evidence (task mean [95 % CI]):", "", format_markdown(head, rows), ""]
    for s in sweep_columns(meta, df.columns):     # declared sweep axes only
        srows = []
        for v, g in real.groupby(s, sort=True):
            r = _best([(str(p), _estimate(metric_rows(x, m, record), m))
                       for p, x in g.groupby("pipeline")], d)
            if r:
                srows.append([str(v), r[0][0], fmt_estimate(r[0][1]), f"{r[0][1].n_tasks} / {r[0][1].n_rows}"])
        if srows:
            lines += [f"Best pipeline by {md(s.removeprefix('param.'))} (by {md(m)}):", "",
                      format_markdown([s.removeprefix("param."), "pipeline", m, "n tasks / rows"], srows), ""]
    lines += ["### QA checklist", ""] + qa_checklist(df[df["pipeline"] == best], thresholds, record) + [""]
    return lines


def qa_checklist(df: pd.DataFrame, thresholds: dict[str, tuple[str, float, str]],
                 record: dict[str, dict] | None = None) -> list[str]:
    """One item per thresholded metric: unchecked (to do) where some rows fail, checked where all pass."""
    items = []
    failed = df[df["status"] != "ok"]
    if len(failed):
        tasks = sorted(failed["task_id"].astype(str).unique())
        items.append(f"- [ ] {len(failed)} error/timeout rows (tasks {md(', '.join(tasks[:8]))}): read the `error` column.")
    for m in metric_columns(df, record):
        if m not in thresholds:
            continue
        op, value, advice = thresholds[m]
        rows = metric_rows(df, m, record).dropna(subset=[m])
        if rows.empty:
            continue
        bad = rows[rows[m] > value] if op == "max" else rows[rows[m] < value]
        rule = f"{md(m)} {'≤' if op == 'max' else '≥'} {value:g}"
        if len(bad):
            tasks = sorted(bad["task_id"].astype(str).unique())
            worst = bad[m].max() if op == "max" else bad[m].min()
            items.append(f"- [ ] {rule} fails on {len(bad)}/{len(rows)} rows (tasks {md(', '.join(tasks[:8]))}; worst "
                         f"{fmt(worst)}): {md(advice)}.")
        else:
            items.append(f"- [x] {rule} holds on all {len(rows)} rows.")
    return items or ["- [x] no thresholded metric in this run."]


def write_recommendation(out: str | Path, *, metric: str | None = None, thresholds: str | Path | None = None) -> str:
    """Write skill-editing-pipeline.md into run directory ``out``; return its text."""
    out = Path(out)
    meta, df = load_run(out)
    if metric is not None and metric not in df.columns:
        raise EditbenchError(f"run {out} has no metric column {metric!r}.")
    th = load_thresholds(thresholds)
    check_thresholds(th, read_metrics(out, meta, df.columns), where=str(thresholds or "built-in thresholds"))
    s = meta.get("suite", {})
    lines = ["# Skill: choosing an image-editing pipeline", "",
             md(f"Measured on suite {s.get('name')} v{s.get('version')} (hash {str(s.get('hash'))[:12]}), run "
                f"{meta.get('run_id')}, seeds {meta.get('seeds')}, git {meta.get('git_sha')}.") + " Means are task means with "
             "95 % Student-t intervals over task means (seeds averaged within each task); pipelines with random weights "
             "are not ranked.", ""]
    for kind, g in df.groupby("kind", sort=True):
        lines += recommend_kind(str(kind), g, meta, metric, th)
    text = "\n".join(lines)
    atomic_write_text(out / "skill-editing-pipeline.md", text, root=out)
    return text
