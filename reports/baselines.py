"""Accepted baselines: which run each suite's gate compares against, as an append-only log.

Runs of a nightly root live at ``<root>/<suite>/<run_id>/``. ``<root>/baselines.jsonl`` holds one JSON
object per acceptance (who, when, why, the run's folder relative to the root, its run_id, suite hash and
metric versions); the newest line of a suite is its accepted baseline. Nothing is ever rewritten: a
baseline is replaced by accepting another run. Accepting a run whose suite hash or metric versions differ
from the current baseline's needs ``force`` and says why.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.contract.results import load_run
from harness.core.errors import EditbenchError

LOG = "baselines.jsonl"


@dataclass(frozen=True)
class Baseline:
    suite: str
    run: str                    # the run's folder, relative to the root
    run_id: str
    suite_hash: str
    metric_versions: dict[str, int]
    who: str
    when: str
    why: str

    def path(self, root: Path) -> Path:
        return root / self.run


def metric_versions(meta: dict) -> dict[str, int]:
    """{column: version} of a run's metrics record."""
    return {c: int(m.get("version", 1)) for c, m in sorted((meta.get("metrics") or {}).items()) if isinstance(m, dict)}


def read_log(root: str | Path) -> list[Baseline]:
    """Every acceptance under ``root``, oldest first ([] without a log)."""
    path = Path(root) / LOG
    if not path.is_file():
        return []
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(Baseline(**json.loads(line)))
        except (ValueError, TypeError) as e:
            raise EditbenchError(f"{path} line {i} is not a baseline record ({type(e).__name__}).") from None
    return out


def current(root: str | Path, suite: str) -> Baseline | None:
    """The accepted baseline of ``suite`` under ``root`` (the newest acceptance), or None."""
    found = [b for b in read_log(root) if b.suite == suite]
    return found[-1] if found else None


def root_of(run: Path) -> Path:
    """The nightly root of a run at ``<root>/<suite>/<run_id>``."""
    return run.resolve().parent.parent


def accept(run: str | Path, *, root: str | Path | None = None, why: str = "", force: bool = False) -> Baseline:
    """Record ``run`` as its suite's accepted baseline (appended to ``<root>/baselines.jsonl``)."""
    run = Path(run).resolve()
    root = Path(root).resolve() if root is not None else root_of(run)
    if not run.is_relative_to(root):
        raise EditbenchError(f"run {run} is not under the root {root}; runs of a root live at ROOT/SUITE/RUN_ID.")
    meta, _ = load_run(run)
    if meta.get("status") != "complete":
        raise EditbenchError(f"run {run} is {meta.get('status') or 'without a status'}, not complete; only a "
                             "complete run can be a baseline.")
    suite = str((meta.get("suite") or {}).get("name"))
    entry = Baseline(suite=suite, run=run.relative_to(root).as_posix(), run_id=str(meta.get("run_id")),
                     suite_hash=str((meta.get("suite") or {}).get("hash")), metric_versions=metric_versions(meta),
                     who=_who(), when=datetime.now(timezone.utc).isoformat(timespec="seconds"), why=why)
    now = current(root, suite)
    if now is not None and not force:
        changed = []
        if now.suite_hash != entry.suite_hash:
            changed.append(f"the suite content changed (hash {now.suite_hash[:12]} -> {entry.suite_hash[:12]})")
        moved = sorted(c for c in set(now.metric_versions) & set(entry.metric_versions)
                       if now.metric_versions[c] != entry.metric_versions[c])
        if moved:
            changed.append(f"metric versions changed ({', '.join(moved)})")
        if changed:
            raise EditbenchError(f"run {run} differs from the accepted baseline {now.run} of suite {suite}: "
                                 f"{'; '.join(changed)}; accept it with --force if that is intended.")
    log = root / LOG
    with open(log, "a", encoding="utf-8") as f:      # one line appended and synced: the log is never rewritten
        f.write(json.dumps(entry.__dict__, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return entry


def latest_runs(root: str | Path) -> dict[str, Path]:
    """{suite folder name: its newest complete run (by run.json start_time)} under ``root``."""
    out = {}
    for suite_dir in sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(".")):
        runs = []
        for run in suite_dir.iterdir():
            try:
                meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict) and meta.get("status") == "complete":
                runs.append((str(meta.get("start_time", "")), run.name, run))
        if runs:
            out[suite_dir.name] = max(runs)[2]
    return out


def accept_latest(root: str | Path, *, why: str = "", force: bool = False) -> list[Baseline]:
    """Accept every suite's newest complete run under ``root``."""
    runs = latest_runs(root)
    if not runs:
        raise EditbenchError(f"root {root} holds no complete run at ROOT/SUITE/RUN_ID.")
    return [accept(run, root=root, why=why, force=force) for run in runs.values()]


def baseline_for(candidate: str | Path, *, root: str | Path | None = None) -> Path | None:
    """The accepted baseline run of ``candidate``'s suite, or None when the suite has none yet."""
    candidate = Path(candidate).resolve()
    root = Path(root).resolve() if root is not None else root_of(candidate)
    meta, _ = load_run(candidate, allow_empty=True)
    b = current(root, str((meta.get("suite") or {}).get("name")))
    return b.path(root) if b is not None else None


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
