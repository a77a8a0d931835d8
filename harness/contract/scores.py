"""The score side table of a run: scorer columns added after the run (``editbench rescore``).

Rescoring never rewrites a pipeline's rows or outputs; it writes Parquet shards under
``<out>/scores/<scorer>-<id>.parquet``, one row per (task_id, pipeline, seed) scored, holding the key,
the scorer's metric columns (``<scorer>.<metric>``), its evidence columns (e.g. ``judge_answer``) and
four bookkeeping columns: ``rescore_scorer``, ``rescore_signature`` (what the scorer computed with its
options, :meth:`scorers.base.Scorer.signature`), ``rescore_at`` (UTC, microseconds) and
``rescore_error`` (the scorer's failure on that row, else null).

:func:`join_scores` is applied by :func:`harness.contract.results.read_results`, so every reader (leaderboard,
gate, history, results.json) sees the joined columns: per scorer the latest side row of each key wins
and replaces that scorer's columns in the run's own rows (so a rescore recomputes a column the run
already had); ``<scorer>_error`` holds its ``rescore_error``. Side rows of keys the run has no row for are
ignored. Shards are written whole (temporary file and rename locally, one PUT on an object store).
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from harness.core.errors import EditbenchError
from harness.core.storage import Location

KEY = ("task_id", "pipeline", "seed")
SCORES_DIR = "scores"
BOOKKEEPING = ("rescore_scorer", "rescore_signature", "rescore_at", "rescore_error")


def now_us() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def write_score_shard(out: str | Path, scorer: str, records: Iterable[dict[str, Any]]) -> str | None:
    """Write one side-table shard of ``scorer`` (records hold the key, columns and bookkeeping); its URL."""
    records = list(records)
    if not records:
        return None
    buf = io.BytesIO()
    pd.DataFrame.from_records(records).to_parquet(buf, index=False)
    return Location(out).write_bytes(buf.getvalue(), SCORES_DIR, f"{scorer}-{uuid.uuid4().hex[:12]}.parquet")


def read_scores(out: str | Path) -> dict[str, pd.DataFrame]:
    """scorer -> every side-table row of that scorer ({} when the run was never rescored)."""
    loc = Location(out)
    frames: dict[str, list[pd.DataFrame]] = {}
    for name in loc.list(SCORES_DIR):
        if name.startswith(".") or not name.endswith(".parquet"):
            continue
        try:
            f = pd.read_parquet(io.BytesIO(loc.read_bytes(SCORES_DIR, name)))
        except Exception as e:  # noqa: BLE001 - pyarrow raises many types for a broken file
            raise EditbenchError(f"score shard {loc.url(SCORES_DIR, name)} cannot be read ({type(e).__name__}); "
                                 f"move it out of {loc.url(SCORES_DIR)} (`editbench rescore` recomputes it).") from None
        missing = [c for c in (*KEY, *BOOKKEEPING) if c not in f.columns]
        if missing:
            raise EditbenchError(f"score shard {loc.url(SCORES_DIR, name)} lacks the columns {missing}.")
        for scorer, g in f.groupby("rescore_scorer", sort=True):
            frames.setdefault(str(scorer), []).append(g)
    return {s: pd.concat(fs, ignore_index=True, sort=False) for s, fs in sorted(frames.items())}


def latest(rows: pd.DataFrame) -> pd.DataFrame:
    """The latest side row per key of one scorer's rows, indexed by (task_id str, pipeline str, seed int64)."""
    g = rows.sort_values("rescore_at", kind="stable")
    g = g.assign(task_id=g["task_id"].astype(str), pipeline=g["pipeline"].astype(str),
                 seed=pd.to_numeric(g["seed"], errors="coerce").astype("int64"))
    return g.drop_duplicates(list(KEY), keep="last").set_index(list(KEY))


def join_scores(df: pd.DataFrame, side: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """``df`` (a run's rows) with the side table's columns joined in (see the module docstring)."""
    if not side or df.empty:
        return df
    df = df.copy()
    keys = pd.MultiIndex.from_arrays([df["task_id"].astype(str), df["pipeline"].astype(str), df["seed"].astype("int64")])
    for scorer, rows in side.items():
        g = latest(rows)
        hit = keys.isin(g.index)
        if not hit.any():
            continue
        picked = g.reindex(keys[hit])
        cols = [c for c in g.columns if c not in BOOKKEEPING] + [f"{scorer}_error"]
        picked[f"{scorer}_error"] = picked["rescore_error"]
        for c in cols:
            values = picked[c].to_numpy()
            numeric = picked[c].dtype.kind in "fiu"
            if c not in df.columns:
                df[c] = pd.Series([None] * len(df), dtype=float if numeric else object, index=df.index)
            elif numeric and df[c].dtype.kind in "fiu":
                df[c] = df[c].astype(float)
            else:
                df[c] = df[c].astype(object)
            df.loc[hit, c] = values
    return df


def scored_keys(side: dict[str, pd.DataFrame], scorer: str, signature: str) -> set[tuple[str, str, int]]:
    """Keys whose latest side row of ``scorer`` has ``signature`` and no error (a resumed rescore skips them)."""
    if scorer not in side:
        return set()
    g = latest(side[scorer])
    ok = (g["rescore_signature"] == signature) & g["rescore_error"].isna()
    return {(str(t), str(p), int(s)) for t, p, s in g.index[ok.to_numpy()]}
