"""Result rows and their Parquet shards (the output-directory contract in docs/reports.md).

One row per (task_id, pipeline, seed). Shards are written atomically (temp file, then rename) into
``<out>/results/``, so a crash never leaves a half-written shard that readers would pick up. Rows whose
shard could not be written as Parquet go to a JSON-lines fallback file there
(``fallback-*.jsonl``), which every reader reads too. A shard that cannot be read, a key column of the
wrong type, or a repeated (task_id, pipeline, seed) is one :class:`~harness.core.errors.EditbenchError`.
"""

from __future__ import annotations

import io
import json
import math
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from harness.contract.scores import join_scores, read_scores
from harness.core.errors import EditbenchError
from harness.core.storage import atomic_write, atomic_write_text, is_uri, location, running_note

STATUSES = ("ok", "error", "timeout")
WEIGHTS = ("real", "random", "trained")
KEY = ("task_id", "pipeline", "seed")
REQUIRED_COLUMNS = (
    "run_id", "suite", "task_id", "kind", "pipeline", "seed",
    "status", "error", "weights", "output_path", "latency_ms",
)


@dataclass
class ResultRow:
    """One (task, pipeline, seed) result. ``to_record`` flattens it to Parquet columns:
    ``latency_<stage>_ms``, ``param.<name>`` and ``<scorer>.<metric>``."""

    run_id: str
    suite: str
    task_id: str
    kind: str
    pipeline: str
    seed: int
    status: str = "ok"
    error: str | None = None
    weights: str = "real"
    output_path: str | None = None
    latency_ms: float = math.nan
    warmup: bool = False                     # first run after load: excluded from latency statistics
    attempt: int = 1                         # 1 + retries after an actor died
    score_error: str | None = None           # scorers that failed on an ok row (their metrics are NaN)
    node: str | None = None                  # Ray node id (first 12 hex digits) of the actor that ran it
    gpu: str | None = None                   # GPU ids Ray assigned to that actor ("" on CPU actors)
    device: str | None = None                # device the pipeline resolved "auto" to (e.g. "cuda", "cpu")
    dtype: str | None = None                 # compute dtype it resolved to (e.g. "float16"); None when n/a
    stage_ms: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)   # "<scorer>.<metric>" -> value
    # Adapter-specific columns (Output.extras), e.g. a hosted adapter's http_attempts, http_status,
    # request_id and cost_usd; scalars only.
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, got {self.weights!r}")
        if self.status == "ok" and self.error is not None:
            raise ValueError("an ok row carries no error message")

    def to_record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {c: getattr(self, c) for c in REQUIRED_COLUMNS}
        rec["warmup"] = self.warmup
        rec["attempt"] = self.attempt
        rec["score_error"] = self.score_error
        rec["node"] = self.node
        rec["gpu"] = self.gpu
        rec["device"] = self.device
        rec["dtype"] = self.dtype
        rec.update({f"latency_{k}_ms": float(v) for k, v in self.stage_ms.items()})
        rec.update({f"param.{k}": v for k, v in self.params.items() if isinstance(v, (int, float, str, bool))})
        rec.update({k: float(v) for k, v in self.metrics.items()})
        rec.update({k: v for k, v in self.extras.items() if v is None or isinstance(v, (int, float, str, bool))})
        return rec


def results_dir(out: str | Path) -> Path:
    return Path(out) / "results"


def write_shard(out: str | Path, records: Iterable[dict[str, Any]], *, prefix: str = "part") -> Path | str | None:
    """Write records as one Parquet shard, atomically. Returns its path (None when there is nothing).

    In an object store (``out`` a URI, :class:`harness.core.storage.Location`) the shard is one PUT under a
    fresh key: written once, never renamed."""
    records = list(records)
    if not records:
        return None
    if is_uri(out):
        buf = io.BytesIO()
        pd.DataFrame.from_records(records).to_parquet(buf, index=False)
        return location(out).write_bytes(buf.getvalue(), "results", f"{prefix}-{uuid.uuid4().hex[:12]}.parquet")
    d = results_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame.from_records(records)
    return atomic_write(d / f"{prefix}-{uuid.uuid4().hex[:12]}.parquet", lambda tmp: frame.to_parquet(tmp, index=False))


def write_fallback(out: str | Path, records: Iterable[dict[str, Any]]) -> Path | str:
    """Write records as one JSON-lines file (for rows a Parquet shard could not hold), atomically."""
    if is_uri(out):
        lines = [json.dumps(r, default=str, allow_nan=True) for r in records]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        return location(out).write_bytes(data, "results", f"fallback-{uuid.uuid4().hex[:12]}.jsonl")
    d = results_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, default=str, allow_nan=True) for r in records]
    return atomic_write_text(d / f"fallback-{uuid.uuid4().hex[:12]}.jsonl", "\n".join(lines) + "\n")


def fallback_files(out: str | Path) -> list[Path]:
    """The JSON-lines shards of a local run (rows a Parquet shard could not hold): every reader reads them."""
    return sorted(results_dir(out).glob("fallback-*.jsonl"))


def read_shard(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            return pd.DataFrame.from_records(rows)
        return pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - pyarrow/json raise many types for a broken file
        what = "is empty (0 bytes)" if path.stat().st_size == 0 else f"cannot be read ({type(e).__name__})"
        raise EditbenchError(f"result shard {path} {what}; move it out of {path.parent} to use the other "
                             "rows.") from None


def _read_remote_shards(out: str) -> list[pd.DataFrame]:
    """The shards of a run in an object store; names starting with '.' (never written there) are ignored."""
    loc = location(out)
    frames = []
    for name in loc.list("results"):
        if name.startswith(".") or not (name.endswith(".parquet") or (name.startswith("fallback-")
                                                                     and name.endswith(".jsonl"))):
            continue
        data = loc.read_bytes("results", name)
        try:
            if name.endswith(".jsonl"):
                rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
                frames.append(pd.DataFrame.from_records(rows))
            else:
                frames.append(pd.read_parquet(io.BytesIO(data)))
        except Exception as e:  # noqa: BLE001 - pyarrow/json raise many types for a broken object
            raise EditbenchError(f"result shard {loc.url('results', name)} cannot be read ({type(e).__name__}); "
                                 "move it out of the run's results/ to use the other rows.") from None
    return frames


def read_results(out: str | Path) -> pd.DataFrame:
    """All result rows of a run directory or object-store location (empty DataFrame with the required
    columns when none), with the score side table's columns joined in (:mod:`harness.contract.scores`)."""
    d: Path | str = results_dir(out)
    if is_uri(out):
        d = f"{str(out).rstrip('/')}/results"
        frames = _read_remote_shards(str(out))
    else:
        files = sorted([*results_dir(out).glob("*.parquet"), *fallback_files(out)])
        files = [f for f in files if not f.name.startswith(".")]   # leftovers, as on object stores
        frames = [read_shard(f) for f in files]
    if not frames:
        return pd.DataFrame(columns=list(REQUIRED_COLUMNS))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(REQUIRED_COLUMNS))
    df = pd.concat(frames, ignore_index=True, sort=False)
    missing = [c for c in KEY if c not in df.columns]
    if missing:
        raise EditbenchError(f"result rows in {d} lack the key columns {missing}.")
    seeds = pd.to_numeric(df["seed"], errors="coerce")
    wrong = seeds.isna() | (seeds != seeds.round()) | (seeds.astype("float64").abs() >= 2.0**63)
    if wrong.any():
        raise EditbenchError(f"result rows in {d} hold a seed that is not a 64-bit whole number "
                             f"({df['seed'][wrong].iloc[0]!r}).")
    df["seed"] = seeds.astype("int64")
    return join_scores(df, read_scores(out))   # columns added by `editbench rescore` (harness.contract.scores)


def duplicate_keys(df: pd.DataFrame) -> list[tuple[str, str, int]]:
    """The (task_id, pipeline, seed) keys held by more than one row."""
    if df.empty:
        return []
    dup = df[df.duplicated(list(KEY), keep="first")]
    return sorted({(str(t), str(p), int(s)) for t, p, s in zip(dup["task_id"], dup["pipeline"], dup["seed"])})


def duplicates_message(out: str | Path, df: pd.DataFrame) -> str | None:
    """One sentence naming the repeated keys of a run, or None when every key is unique."""
    dups = duplicate_keys(df)
    if not dups:
        return None
    n_rows = int(df.duplicated(list(KEY), keep=False).sum())
    return (f"run {out} holds {n_rows} rows for {len(dups)} (task_id, pipeline, seed) keys that should have one "
            f"row each, e.g. {dups[0]}; two writers shared this directory")


def foreign_rows_message(out: str | Path, meta: dict, df: pd.DataFrame) -> str | None:
    """One sentence when rows in ``out`` name both another run_id and another suite than its run.json (a
    shard copied in from another run), else None. Rows that differ in one of the two only (a run directory
    assembled by hand, rows re-labelled by a tool) are read as they are."""
    run_id = meta.get("run_id")
    suite = (meta.get("suite") or {}).get("name") if isinstance(meta.get("suite"), dict) else None
    if not isinstance(run_id, str) or not isinstance(suite, str) or df.empty or not {"run_id", "suite"} <= set(df.columns):
        return None
    other = df[(df["run_id"].astype(str) != run_id) & (df["suite"].astype(str) != suite)
               & df["run_id"].notna() & df["suite"].notna()]
    if len(other):
        return (f"run {out} holds {len(other)} result rows of run_id {str(other['run_id'].iloc[0])!r} and suite "
                f"{str(other['suite'].iloc[0])!r}, not this run's {run_id!r} of suite {suite!r} (run.json); a shard "
                f"from another run was put in {results_dir(out)} — move it out")
    return None


# run.json fields readers rely on -> (type, what it must be); a field that is present must have this type.
RUN_RECORD_FIELDS = {"run_id": (str, "a string"), "status": (str, "a string"), "suite": (dict, "an object"),
                     "pipelines": (list, "a list"), "seeds": (list, "a list"), "scorers": (list, "a list"),
                     "metrics": (dict, "an object"), "jobs": (dict, "an object"), "attempts": (list, "a list"),
                     "sweep": (list, "a list")}


def run_record_problem(meta: object) -> str | None:
    """What is wrong with the shape of a run.json document (naming the field), or None."""
    if not isinstance(meta, dict):
        return f"must hold a JSON object, not {type(meta).__name__}"
    for name, (kind, what) in RUN_RECORD_FIELDS.items():
        if name in meta and meta[name] is not None and not isinstance(meta[name], kind):
            return f"field {name} must be {what}, not {type(meta[name]).__name__}"
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in meta.get("seeds") or []):
        return "field seeds must list integers"
    if not all(isinstance(s, str) for s in meta.get("scorers") or []):
        return "field scorers must list scorer names"
    if not all(isinstance(p, dict) for p in meta.get("pipelines") or []):
        return "field pipelines must list objects"
    if not all(isinstance(a, dict) for a in meta.get("attempts") or []):
        return "field attempts must list objects"
    return None


def coverage_notes(meta: dict, df: pd.DataFrame) -> list[str]:
    """One sentence per pipeline holding fewer rows than the run planned for it (run.json ``jobs.planned``;
    e.g. after ``--resume --extend`` was interrupted, or a pipeline added with other seeds), so a
    leaderboard cell built from fewer rows says so."""
    planned = (meta.get("jobs") or {}).get("planned") or []
    if not planned:
        return []
    want: dict[str, set] = {}
    for t, p, s in planned:
        want.setdefault(str(p), set()).add((str(t), int(s)))
    have: dict[str, set] = {}
    for t, p, s in zip(df["task_id"], df["pipeline"], df["seed"]):
        have.setdefault(str(p), set()).add((str(t), int(s)))
    notes = []
    for p in sorted(want):
        got = len(want[p] & have.get(p, set()))
        if got < len(want[p]):
            seeds = sorted({s for _, s in want[p] - have.get(p, set())})
            notes.append(f"pipeline {p} has {got} of its {len(want[p])} planned rows (missing seeds {seeds}); "
                         "its cells rest on fewer rows than planned")
    return notes


def done_keys(out: str | Path) -> set[tuple[str, str, int]]:
    """(task_id, pipeline, seed) of every row already on disk."""
    df = read_results(out)
    return {(str(t), str(p), int(s)) for t, p, s in zip(df["task_id"], df["pipeline"], df["seed"])}


def load_run(out: str | Path, *, allow_empty: bool = False,
             duplicates: str = "warn") -> tuple[dict, pd.DataFrame]:
    """run.json and all result rows of run directory ``out``; raises EditbenchError naming what is missing.

    Repeated (task_id, pipeline, seed) keys are a warning on stderr (``duplicates="warn"``) or an error
    (``"error"``, the gate's choice). A run whose run.json says ``running`` gets a warning on stderr.
    """
    out = Path(out)
    meta_path = out / "run.json"
    if not out.is_dir():
        raise EditbenchError(f"run directory {out} does not exist.")
    if not meta_path.is_file():
        raise EditbenchError(f"{out} is not an editbench run directory: {meta_path} is missing.")
    try:
        meta = json.loads(meta_path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise EditbenchError(f"{meta_path} is not UTF-8 text.") from None
    except json.JSONDecodeError as e:
        raise EditbenchError(f"{meta_path} is not valid JSON ({e.msg} at line {e.lineno}).") from None
    except (RecursionError, ValueError):   # nested too deeply, an integer of thousands of digits
        raise EditbenchError(f"{meta_path} cannot be read (nested too deeply or a number too large).") from None
    problem = run_record_problem(meta)
    if problem:
        raise EditbenchError(f"{meta_path} {problem}.")
    df = read_results(out)
    foreign = foreign_rows_message(out, meta, df)
    if foreign:
        raise EditbenchError(f"{foreign}.")
    dup = duplicates_message(out, df)
    if dup and duplicates == "error":
        raise EditbenchError(f"{dup}; refusing to use it.")
    if dup:
        print(f"editbench: warning: {dup}.", file=sys.stderr)
    note = running_note(out, meta)
    if note:
        print(f"editbench: warning: {note}", file=sys.stderr)
    if df.empty and not allow_empty:
        raise EditbenchError(f"run directory {out} holds no result rows in {results_dir(out)}.")
    return meta, df
