"""Wall-clock of `editbench run --suite toy-5d` with the toy model already cached.

Prints the figures; it asserts nothing. Usage:
    .venv/bin/python bench/toy_run.py [--repeats 3]
The first (untimed) run trains the model into the cache if needed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cmd = [sys.executable, "-m", "harness.cli", "run", "--suite", "toy-5d", "--no-progress", "--out"]
    tmp = Path(tempfile.mkdtemp(prefix="editbench-bench-"))
    subprocess.run(cmd + [str(tmp / "warm")], check=True, cwd=ROOT)  # trains + caches the model if needed
    times = []
    for i in range(args.repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd + [str(tmp / f"r{i}")], check=True, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - t0)
    shutil.rmtree(tmp)
    print(f"editbench run --suite toy-5d (24 jobs, model cached), {args.repeats} runs: "
          f"min {min(times):.1f} s, median {sorted(times)[len(times) // 2]:.1f} s, max {max(times):.1f} s")


if __name__ == "__main__":
    main()
