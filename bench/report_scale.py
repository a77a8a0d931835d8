"""Report, gate and history at nightly scale, against a plain numpy floor.

    python bench/report_scale.py [--tasks 10000] [--pipelines 6] [--seeds 3] [--shards 36] [--dir DIR]

Writes a synthetic run in the documented schema (run.json with its metrics record, result shards with
the scorer columns and per-stage latencies, no output images), a second run (the candidate: the same
rows with a small shift), then times in separate processes (peak RSS from the kernel):

- ``editbench report RUN`` (leaderboard.md, leaderboard.html, results.json; task pages have no images);
- ``editbench gate RUN CAND``;
- ``editbench report --history ROOT`` over both runs;
- the floor: read the needed columns of every shard with pyarrow, per pipeline x metric the task means
  (mean over seeds, then over tasks) and the t interval of reports.stats, in a few numpy passes.

The report's overall numbers are checked equal to the floor's (results.json against the floor) before
any figure is printed. Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCORERS = ["seam", "texture", "background", "latency"]


def make_run(out: Path, *, tasks: int, pipelines: int, seeds: int, shards: int, shift: float, seed: int) -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from scorers.columns import metrics_record

    rng = np.random.default_rng(seed)
    record = metrics_record(SCORERS, ["latency_prepare_ms", "latency_inpaint_ms", "latency_finish_ms"],
                            primary="texture.score")
    cols = [c for c in record if "." in c]
    names = [f"pipe-{i}" for i in range(pipelines)]
    task_ids = np.array([f"t{i:06d}" for i in range(tasks)])
    effect = rng.normal(0, 1, tasks)                      # task difficulty, shared by pipelines
    out.mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(exist_ok=True)
    meta = {"run_id": f"bench-{out.name}", "suite": {"name": "scale", "version": "1", "hash": "h", "n_tasks": tasks},
            "pipelines": [{"name": "synthetic", "label": p} for p in names], "seeds": list(range(seeds)),
            "scorers": SCORERS, "metrics": record, "primary": "texture.score", "sweep": [],
            "start_time": f"2026-01-0{1 + int(shift > 0)}T00:00:00+00:00", "status": "complete"}
    (out / "run.json").write_text(json.dumps(meta))
    frames = []
    for pi, p in enumerate(names):
        n = tasks * seeds
        df = pd.DataFrame({
            "run_id": meta["run_id"], "suite": "scale", "task_id": np.repeat(task_ids, seeds), "kind": "inpaint",
            "pipeline": p, "seed": np.tile(np.arange(seeds, dtype=np.int64), tasks), "status": "ok", "error": None,
            "weights": "real", "output_path": None, "warmup": False, "attempt": 1,
        })
        base = np.repeat(effect, seeds) + 0.1 * pi
        for c in cols:
            df[c] = np.abs(base + rng.normal(0, 0.3, n) + shift) + (100.0 if c.startswith("latency") else 0.0)
        for stage in ("prepare", "inpaint", "finish"):
            df[f"latency_{stage}_ms"] = rng.gamma(2.0, 20.0, n)
        df["latency_ms"] = df[[f"latency_{s}_ms" for s in ("prepare", "inpaint", "finish")]].sum(axis=1)
        frames.append(df)
    all_rows = pd.concat(frames, ignore_index=True)
    for i, part in enumerate(np.array_split(np.arange(len(all_rows)), shards)):
        pq.write_table(pa.Table.from_pandas(all_rows.iloc[part], preserve_index=False),
                       out / "results" / f"part-{i:04d}.parquet")


def floor(run: Path) -> dict:
    """Task means and t intervals per pipeline x metric, from the shards, in numpy."""
    import pyarrow.dataset as ds

    from reports.stats import t_interval, t_summary

    meta = json.loads((run / "run.json").read_text())
    metrics = [c for c, m in meta["metrics"].items() if "." in c]
    t = ds.dataset(str(run / "results"), format="parquet").to_table(
        columns=["task_id", "pipeline", "seed", "status", *metrics])
    ok = np.asarray(t["status"].to_numpy(zero_copy_only=False)) == "ok"
    task, tinv = np.unique(np.asarray(t["task_id"].to_numpy(zero_copy_only=False))[ok], return_inverse=True)
    pipe, pinv = np.unique(np.asarray(t["pipeline"].to_numpy(zero_copy_only=False))[ok], return_inverse=True)
    out = {}
    for m in metrics:
        v = t[m].to_numpy(zero_copy_only=False)[ok].astype(np.float64)
        fin = np.isfinite(v)
        key = pinv * len(task) + tinv
        sums = np.bincount(key[fin], weights=v[fin], minlength=len(pipe) * len(task))
        cnt = np.bincount(key[fin], minlength=len(pipe) * len(task))
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (sums / cnt).reshape(len(pipe), len(task))
        mean, se, df = t_summary(means, axis=1)
        lo, hi = t_interval(mean, se, df)
        r_lo, r_hi = meta["metrics"][m]["range"]     # intervals are clipped to the metric's range
        lo = lo if r_lo is None else np.maximum(lo, r_lo)
        hi = hi if r_hi is None else np.minimum(hi, r_hi)
        for i, p in enumerate(pipe):
            out[(str(p), m)] = (float(mean[i]), float(lo[i]), float(hi[i]))
    return out


WRAP = ("import atexit, resource, sys; sys.path.insert(0, {root!r}); "
        "atexit.register(lambda: print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "file=sys.stderr)); {body}")


def timed(body: str) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of ``body`` run by a fresh Python process."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", WRAP.format(root=str(ROOT), body=body)], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    rss = next((int(ln.split()[1]) / 1024 for ln in p.stderr.splitlines() if ln.startswith("PEAK_RSS_KB")), float("nan"))
    if p.returncode not in (0, 1):
        print(p.stderr[-2000:], file=sys.stderr)
    return wall, rss, p.returncode


def cli(*args: str) -> str:
    return f"sys.argv = ['editbench', *{list(args)!r}]; from harness.cli import main; main()"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--pipelines", type=int, default=6)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--shards", type=int, default=36)
    ap.add_argument("--dir", type=Path, default=None)
    a = ap.parse_args()
    root = a.dir or Path(tempfile.mkdtemp(prefix="report-scale-"))
    run, cand = root / "run", root / "cand"
    t0 = time.perf_counter()
    make_run(run, tasks=a.tasks, pipelines=a.pipelines, seeds=a.seeds, shards=a.shards, shift=0.0, seed=1)
    make_run(cand, tasks=a.tasks, pipelines=a.pipelines, seeds=a.seeds, shards=a.shards, shift=0.01, seed=2)
    n = a.tasks * a.pipelines * a.seeds
    print(f"wrote 2 runs of {n} rows ({a.shards} shards each) under {root} in {time.perf_counter() - t0:.1f} s")
    results = {}
    results["floor"] = timed(f"import bench.report_scale as b, pathlib; b.floor(pathlib.Path({str(run)!r}))")
    results["report"] = timed(cli("report", str(run)))
    results["gate"] = timed(cli("gate", str(run), str(cand), "--out", str(root / "gate")))
    results["history"] = timed(cli("report", "--history", str(root)))
    # the report's numbers are the floor's
    fl = floor(run)
    summary = json.loads((run / "results.json").read_text())
    checked = 0
    for p, entry in summary["results"].items():
        for m, est in entry["metrics"].items():
            if (p, m) in fl and est.get("mean") is not None:
                mean, lo, hi = fl[(p, m)]
                assert np.isclose(est["mean"], mean, rtol=1e-9) and np.allclose(est["ci"], [lo, hi], rtol=1e-9), (p, m)
                checked += 1
    assert checked >= a.pipelines, checked
    print(f"report numbers equal the floor's on {checked} pipeline x metric cells")
    print(f"{'step':10s} {'wall s':>8s} {'x floor':>8s} {'peak MiB':>9s} {'exit':>5s}")
    for k, (wall, rss, rc) in results.items():
        print(f"{k:10s} {wall:8.2f} {wall / results['floor'][0]:8.2f} {rss:9.0f} {rc:5d}")


if __name__ == "__main__":
    main()
