"""Throughput of one hosted-pipeline actor by concurrency, against the loopback images-edit server.

    .venv/bin/python bench/hosted.py [--n 32] [--delay 0.5] [--concurrency 1,2,8]

The server (tests/pipelines/hosted_server.py) answers every request after ``--delay`` seconds, as a
service's own latency; ``gpt-image`` (model dall-e-2, 256x256) runs ``--n`` tasks on one actor.
Throughput = tasks / dispatch time (first submit after the actor loaded .. last row). With requests
that wait on the service, throughput should grow with concurrency until the machine's CPU (PNG
encoding on both ends, here in the same process as the server) is the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--delay", type=float, default=0.5)
    ap.add_argument("--concurrency", default="1,2,8")
    args = ap.parse_args()
    from PIL import Image

    from harness.contract.spec import RunSpec
    from harness.execution.runner import init_ray
    from harness.workflow import run
    from tests.pipelines.hosted_server import EditServer

    os.environ["EDITBENCH_BENCH_KEY"] = f"sk-bench-{secrets.token_hex(8)}"   # before Ray starts: actors inherit it
    init_ray(None)
    server = EditServer(os.environ["EDITBENCH_BENCH_KEY"]).start()
    server.delay_s = args.delay
    d = Path(tempfile.mkdtemp(prefix="editbench-bench-hosted-"))
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(d / "img.png")
    tasks = [{"task_id": f"t{i:03d}", "kind": "inpaint", "image": "img.png", "mask": {"box": [8, 8, 40, 30]},
              "prompt": "fill the box"} for i in range(args.n)]
    (d / "suite.yaml").write_text(yaml.safe_dump({"name": "hosted-bench", "version": "1", "tasks": tasks}))
    print(f"{'concurrency':>11} {'tasks':>6} {'seconds':>8} {'tasks/s':>8} {'speed-up':>9} {'max in flight':>14}")
    base = None
    try:
        for c in (int(x) for x in args.concurrency.split(",")):
            server.max_inflight = 0
            pipe = {"name": "gpt-image", "concurrency": c, "options": {
                "base_url": server.base_url, "api_key_env": "EDITBENCH_BENCH_KEY", "model": "dall-e-2"}}
            out = d / f"run-c{c}"
            run(RunSpec(suite=str(d / "suite.yaml"), pipelines=[pipe], seeds=[0], scorers=[]), out=out, progress=False)
            att = json.loads((out / "run.json").read_text())["attempts"][-1]
            tput = args.n / att["dispatch_s"]
            base = base or tput
            print(f"{c:>11} {args.n:>6} {att['dispatch_s']:>8.2f} {tput:>8.2f} {tput / base:>8.2f}x "
                  f"{server.max_inflight:>14}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
