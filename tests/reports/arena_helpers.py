"""A small finished inpainting run for the arena tests: skimage's astronaut, a box mask, three pipelines
whose outputs a person can tell apart ('blend' fills the box with a blurred copy, 'gray' with flat gray,
'noise' with noise), and three quality metrics: ``q.good`` ranks them as a person would, ``q.bad`` the
other way round, ``q.flat`` the same for every row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from harness.contract.results import ResultRow, write_shard

PIPELINES = ("blend", "gray", "noise")
PROMPT = "<img src=x onerror=alert(1)> fill the <b>box</b> & keep the rest"
BOX = (30, 20, 90, 70)          # x0, y0, x1, y1 of the masked region in the 128 x 128 source


def _outputs(src: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    x0, y0, x1, y1 = BOX
    out = {}
    blend = np.array(Image.fromarray(src).filter(ImageFilter.GaussianBlur(6)))
    for name in PIPELINES:
        img = src.copy()
        if name == "blend":
            img[y0:y1, x0:x1] = blend[y0:y1, x0:x1]
        elif name == "gray":
            img[y0:y1, x0:x1] = 128
        else:
            img[y0:y1, x0:x1] = rng.integers(0, 255, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
        out[name] = img
    return out


def arena_run(tmp: Path, *, tasks: int = 4, seeds=(0, 1), name: str = "run", pipelines=PIPELINES) -> Path:
    from skimage import data

    suite_dir = tmp / f"{name}-suite"
    suite_dir.mkdir(parents=True)
    src = np.array(Image.fromarray(data.astronaut()).resize((128, 128)))
    Image.fromarray(src).save(suite_dir / "astronaut.png")
    rows = "\n".join(f"  - {{task_id: t{i}, kind: inpaint, image: astronaut.png, mask: {{box: {list(BOX)}}}, "
                     f"prompt: {json.dumps(PROMPT)}}}" for i in range(tasks))
    (suite_dir / "arena.yaml").write_text(f"name: arena\nversion: '1'\ntasks:\n{rows}\n")
    out = tmp / name
    out.mkdir()
    q = {"direction": "higher", "role": "quality", "range": [0.0, 1.0], "unit": "", "scorer": "q", "primary": False}
    meta = {"run_id": f"run-{name}", "suite": {"name": "arena", "version": "1", "hash": "h",
                                               "source": str(suite_dir / "arena.yaml")},
            "pipelines": [], "seeds": list(seeds), "scorers": ["q"], "status": "complete",
            "metrics": {"q.good": {**q, "primary": True}, "q.bad": q, "q.flat": q}}
    (out / "run.json").write_text(json.dumps(meta))
    rng = np.random.default_rng(0)
    rank = {"blend": 0.9, "gray": 0.5, "noise": 0.1}
    recs = []
    for i in range(tasks):
        for seed in seeds:
            imgs = _outputs(src, rng)
            for p in pipelines:
                rel = f"outputs/{p}/t{i}__s{seed}.png"
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(imgs[p]).save(out / rel)
                recs.append(ResultRow(run_id=meta["run_id"], suite="arena", task_id=f"t{i}", kind="inpaint",
                                      pipeline=p, seed=seed, weights="trained", output_path=rel, latency_ms=10.0,
                                      metrics={"q.good": rank[p] + 0.01 * i, "q.bad": 1 - rank[p],
                                               "q.flat": 0.5}).to_record())
    write_shard(out, recs)
    return out
