"""Local stale-lock takeover is atomic: four processes racing for a dead holder's lock, 200 times,
never give two holders at once."""

from __future__ import annotations

import json
import multiprocessing as mp
import socket
import subprocess
import sys

from harness.core.storage import LOCK_NAME, RunLock, RunLocked

RACERS, TRIALS = 4, 200


def _racer(root: str, start, done, results) -> None:
    for trial in range(TRIALS):
        start.wait()
        try:
            RunLock(f"{root}/t{trial}").acquire()      # held (never released) until every racer has tried
            results.put((trial, 1))
        except RunLocked:
            results.put((trial, 0))
        done.wait()


def test_four_racers_on_a_dead_holders_lock_never_both_hold_it(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": "2026-01-01T00:00:00Z",
                        "command": "editbench run", "created": 1.0})
    for t in range(TRIALS):
        (tmp_path / f"t{t}").mkdir()
        (tmp_path / f"t{t}" / LOCK_NAME).write_text(stale)
    ctx = mp.get_context("fork")
    start, done, results = ctx.Barrier(RACERS), ctx.Barrier(RACERS), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(str(tmp_path), start, done, results)) for _ in range(RACERS)]
    for p in procs:
        p.start()
    holders = [0] * TRIALS
    for _ in range(RACERS * TRIALS):
        trial, held = results.get(timeout=120)
        holders[trial] += held
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * RACERS
    assert holders == [1] * TRIALS, [(t, n) for t, n in enumerate(holders) if n != 1][:10]
