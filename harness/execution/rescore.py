"""``editbench rescore``: add or recompute scorer columns of a finished run without running its pipelines.

:func:`rescore` reads the run's rows and stored outputs (a local directory or an object store,
:class:`harness.core.storage.Location`), rebuilds each row's task from the suite recorded in run.json (its
content hash must match), scores the ok rows in batches and writes the results to the score side table
(:mod:`harness.contract.scores`), which every reader joins. The pipelines' rows and outputs are never touched.

Resumable: each batch is one shard written as soon as it is scored, and a row whose latest side row was
scored by the same scorer with the same signature (options that change the result) and no error is
skipped unless ``force``; a judge's cache also makes recomputation free. At the end run.json gets the
scorers' entries in its ``metrics`` record (with a judge's pins: model, protocol and version, and the
models the server reported), a ``rescores`` entry per scorer, an ``attempts`` entry (``command:
rescore``) and, for instruction-editing runs whose primary metric was the default, the judge's overall
score as primary. The run lock is held throughout (one writer per run).
"""

from __future__ import annotations

import io
import json
import math
import os
import socket
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from harness.contract.results import read_results
from harness.contract.scores import now_us, read_scores, scored_keys, write_score_shard
from harness.contract.spec import read_yaml_mapping
from harness.core.errors import EditbenchError
from harness.core.storage import Location, RunLock
from harness.execution.worker import effective_task, score_with
from harness.masks import with_stored_mask
from harness.pipelines.base import Output, get_pipeline_class
from scorers.base import Scorer, get_scorer_class
from scorers.columns import choose_primary, metrics_record, primary_metric
from tasks.loading import load_suite
from tasks.schema import resolve_task

ROW_META = frozenset({"run_id", "suite", "task_id", "kind", "pipeline", "seed", "status", "error", "weights",
                      "output_path", "latency_ms", "warmup", "attempt", "score_error", "node", "gpu", "device", "dtype"})


@dataclass
class RescoreResult:
    """What one rescore did, per scorer: rows scored, skipped (already scored), failed; requests made."""

    scored: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "; ".join(f"{s}: {self.scored[s]} scored, {self.skipped[s]} already scored, {self.failed[s]} failed"
                         + (f", {self.requests[s]} judge requests" if s in self.requests else "")
                         for s in self.scored)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def scorer_options(config: Path | None, scorers: list[str], *, model: str | None = None,
                   base_url: str | None = None) -> dict[str, dict]:
    """Options per scorer from a rescore config (YAML ``{scorer: {option: value}}``, kept by the operator
    outside the suite) and the command line's ``--model`` / ``--base-url`` (judge scorers only, they win)."""
    data = read_yaml_mapping(config, what="rescore config", empty_ok=True) if config is not None else {}
    for name, opts in data.items():
        if name not in scorers:
            raise EditbenchError(f"rescore config {config} gives options for scorer {name!r}, which --scorers does not "
                                 f"name ({scorers}).")
        if not isinstance(opts, dict):
            raise EditbenchError(f"rescore config {config}: the options of {name} must be a mapping.")
    out = {k: dict(v) for k, v in data.items()}
    flags = {k: v for k, v in (("model", model), ("base_url", base_url)) if v is not None}
    if flags:
        judges = [s for s in scorers if hasattr(get_scorer_class(s), "protocol")]
        if not judges:
            raise EditbenchError(f"--model and --base-url are judge options, and --scorers {scorers} names no judge.")
        for s in judges:
            out.setdefault(s, {}).update(flags)
    return out


def read_meta(loc: Location) -> dict:
    if not loc.exists("run.json"):
        raise EditbenchError(f"{loc.url()} is not an editbench run: {loc.url('run.json')} is missing.")
    try:
        meta = json.loads(loc.read_bytes("run.json").decode("utf-8"))
    except (ValueError, OSError) as e:
        raise EditbenchError(f"{loc.url('run.json')} cannot be read as JSON ({type(e).__name__}).") from None
    if not isinstance(meta, dict):
        raise EditbenchError(f"{loc.url('run.json')} must hold a JSON object.")
    return meta


def run_tasks(meta: dict, where: str) -> dict[str, Any]:
    """task_id -> task with absolute paths, from the suite run.json names (same content hash)."""
    s = meta.get("suite") or {}
    source = s.get("source") or s.get("name")
    if not source:
        raise EditbenchError(f"{where}/run.json names no suite; it cannot be rescored.")
    suite = load_suite(source)
    if s.get("hash") and suite.content_hash() != s["hash"]:
        raise EditbenchError(f"suite {source} has changed since run {where} was made (hash {suite.content_hash()[:12]}, "
                             f"run.json {str(s['hash'])[:12]}); rescoring needs the suite the outputs were made from.")
    return {t.task_id: resolve_task(suite, t) for t in suite.tasks}


def load_output(loc: Location, rel: str, row: dict) -> Output:
    """A stored output as the scorers saw it: image (or array), weights, and the row's scalar columns as extras."""
    from PIL import Image

    try:
        data = loc.read_bytes(rel)
    except (OSError, EditbenchError) as e:
        raise EditbenchError(f"output {loc.url(rel)} cannot be read ({type(e).__name__}).") from None
    extras = {k: v for k, v in row.items() if k not in ROW_META and not k.startswith(("param.", "latency_"))
              and "." not in k and (v is None or isinstance(v, (int, float, str, bool)))}
    if rel.endswith(".npy"):
        return Output(array=np.load(io.BytesIO(data)), weights=row["weights"], extras=extras)
    try:
        with Image.open(io.BytesIO(data)) as im:
            image = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except OSError as e:
        raise EditbenchError(f"output {loc.url(rel)} is not a readable image ({type(e).__name__}).") from None
    return Output(image=image, weights=row["weights"], extras=extras)


def applied_options(meta: dict, row: dict) -> dict:
    """The per-task options the row's pipeline applied (its ``param.<name>`` columns of task options)."""
    cfg = next((c for c in meta.get("pipelines") or [] if c.get("label") == row["pipeline"]), {})
    try:
        names = get_pipeline_class(cfg.get("name", "")).task_options
    except EditbenchError:
        return {}
    return {n: row[f"param.{n}"] for n in names if f"param.{n}" in row and _present(row[f"param.{n}"])}


def _present(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def rescore(out: str | Path, *, scorers: list[str], options: dict[str, dict] | None = None, force: bool = False,
            batch: int = 32, log=None) -> RescoreResult:
    """Score the ok rows of run ``out`` with ``scorers`` into its side table and update run.json."""
    options = options or {}
    stray = sorted(set(options) - set(scorers))
    if stray:
        raise EditbenchError(f"options given for scorers {stray} that this rescore does not run ({scorers}).")
    if not scorers:
        raise EditbenchError("name the scorers to add with --scorers, e.g. --scorers judge.")
    loc = Location(out)
    meta = read_meta(loc)
    instances = [get_scorer_class(s)(**options.get(s, {})) for s in scorers]
    for s in instances:
        s.check()                         # bad options, missing weights or key: nothing is scored
    tasks = run_tasks(meta, loc.url())
    lock = RunLock(loc, command="editbench rescore").acquire()
    try:
        result = _rescore_locked(loc, meta, instances, tasks, force=force, batch=batch, log=log or _stderr)
    finally:
        lock.release()
    return result


def _stderr(msg: str) -> None:
    print(f"editbench: {msg}", file=sys.stderr)


def _rescore_locked(loc: Location, meta: dict, scorers: list[Scorer], tasks: dict, *, force: bool, batch: int,
                    log) -> RescoreResult:
    df = read_results(loc.uri)
    ok = df[(df["status"] == "ok") & df["output_path"].notna()] if len(df) else df
    unknown = sorted(set(ok["task_id"].astype(str)) - set(tasks)) if len(ok) else []
    if unknown:
        raise EditbenchError(f"rows of tasks {unknown[:3]} have no task in the run's suite; it cannot be rescored.")
    side = read_scores(loc.uri)
    started = _now()
    result = RescoreResult()
    rows = ok.to_dict(orient="records")
    for s in scorers:
        s.load()
        sig = s.signature()
        done = set() if force else scored_keys(side, s.name, sig)
        todo = [r for r in rows if (str(r["task_id"]), str(r["pipeline"]), int(r["seed"])) not in done]
        result.scored[s.name], result.skipped[s.name], result.failed[s.name] = 0, len(rows) - len(todo), 0
        for i in range(0, len(todo), batch):
            chunk = todo[i:i + batch]
            outputs = [load_output(loc, str(r["output_path"]), r) for r in chunk]
            ts = [effective_task(with_stored_mask(tasks[str(r["task_id"])], loc.uri),
                                 replace(o, applied=applied_options(meta, r))) for r, o in zip(chunk, outputs)]
            idx = [k for k, t in enumerate(ts) if s.applies_to(t)]
            scored = dict(zip(idx, score_with(s, [ts[k] for k in idx], [outputs[k] for k in idx]))) if idx else {}
            records = []
            for k, r in enumerate(chunk):
                vals, ev, err = scored.get(k, ({}, {}, None))
                rec = {"task_id": str(r["task_id"]), "pipeline": str(r["pipeline"]), "seed": int(r["seed"])}
                rec.update({f"{s.name}.{m}": float(vals.get(m, math.nan)) for m in s.metrics})
                rec.update({c: ev.get(c) for c in s.evidence_columns()})
                rec.update(rescore_scorer=s.name, rescore_signature=sig, rescore_at=now_us(), rescore_error=err)
                records.append(rec)
                result.failed[s.name] += err is not None
            url = write_score_shard(loc.uri, s.name, records)
            result.shards.append(url)
            result.scored[s.name] += len(records)
            log(f"rescore {s.name}: {result.scored[s.name]}/{len(todo)} rows")
        judge = getattr(s, "judge", None)
        if judge is not None:
            result.requests[s.name] = judge.requests
    _update_meta(loc, meta, scorers, result, started, kinds=list(ok["kind"].astype(str)) if len(ok) else [])
    return result


def _reported_models(loc: Location, scorer: Scorer) -> list[str]:
    col = f"{scorer.name}_model_reported"
    side = read_scores(loc.uri).get(scorer.name)
    if side is None or col not in side.columns:
        return []
    return sorted({m for v in side[col].dropna() for m in str(v).split(",") if m})


def _update_meta(loc: Location, meta: dict, scorers: list[Scorer], result: RescoreResult, started: str, *,
                 kinds: list[str]) -> None:
    """run.json: the scorers' metric entries (with pins), ``rescores``, an attempt entry, the primary."""
    meta = read_meta(loc)    # reread under the lock
    record = meta.setdefault("metrics", {})
    old_primary = primary_metric(record)
    for s in scorers:
        pins = s.pins()
        if pins:
            pins = {**pins, "models_reported": _reported_models(loc, s)}
        for col, m in metrics_record([s.name], primary=None).items():
            if col.startswith(f"{s.name}."):
                record[col] = {**m, **({"pins": pins} if pins else {})}
        meta.setdefault("rescores", {})[s.name] = {"signature": s.signature(), "at": _now(), **({"pins": pins} if pins else {})}
    # An instruction-editing run whose primary was the default (no judge then) gets the judge's overall score.
    kind_default = choose_primary({c: m for c, m in record.items() if not c.startswith("judge")}, kinds).metric
    if old_primary == kind_default or old_primary is None:
        choice = choose_primary(record, kinds)
        new = choice.metric
        if new is not None and new != old_primary and new.startswith("judge"):
            for col, m in record.items():
                m["primary"] = col == new
            meta["primary"] = new
            meta["goal"] = choice.to_json()
    meta.setdefault("attempts", []).append({
        "command": "rescore", "started": started, "finished": _now(), "pid": os.getpid(), "host": socket.gethostname(),
        "scorers": [s.name for s in scorers], "rows_scored": dict(result.scored), "rows_skipped": dict(result.skipped),
        "rows_failed": dict(result.failed), "judge_requests": dict(result.requests)})
    loc.write_bytes(json.dumps(meta, indent=2, default=str).encode("utf-8"), "run.json")

