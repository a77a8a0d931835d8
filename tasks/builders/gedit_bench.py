"""``gedit-bench``: a suite from GEdit-Bench (Step1X-Edit, Liu et al. 2025; Hugging Face
``stepfun-ai/GEdit-Bench``, parquet; Apache-2.0 as its dataset card states).

``--root`` holds its parquet shards. Columns ``task_type`` (11 groups: the declared report axis
``task_type``), ``key``, ``instruction``, ``instruction_language`` (``en`` / ``cn``: report axis
``language``), ``input_image`` (bytes, written as PNGs beside the suite). One ``instruct`` task per row,
id = ``key`` (``<key>-<language>`` when a key occurs in both languages); ``--language en`` keeps one
language. The ``precomputed`` pipeline's ``gedit`` layout reads a method's outputs from
``results/<model>/fullset/<task_type>/<language>/<key>.png`` by ``meta.task_type``, ``meta.language`` and
``meta.source_id``. GEdit's own scores come from a VLM judge (VIEScore); this harness's judge scorer is
the place for those, not this importer.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Literal

from harness.core.errors import EditbenchError
from tasks.builders.benchmark_formats import DatasetInfo, image_cell, parquet_files, parquet_rows, sanitise_id, sha256_files
from tasks.builders.common import BuildOptions, Draft, beside, png_bytes

COLUMNS = ("task_type", "key", "instruction", "instruction_language", "input_image")
INFO = dict(name="GEdit-Bench", source="Hugging Face stepfun-ai/GEdit-Bench (parquet)",
            licence="Apache-2.0, as the dataset card states")


class GEditOptions(BuildOptions):
    root: Path
    language: Literal["en", "cn"] | None = None     # keep one language (default both)
    n: int | None = None


def draft_gedit(opts: GEditOptions) -> Draft:
    root = Path(opts.root).resolve()
    files = parquet_files(root, what="GEdit-Bench")
    rows = []
    for where, row in parquet_rows(files, columns=COLUMNS):
        for c in ("task_type", "key", "instruction", "instruction_language"):
            if not isinstance(row[c], str) or not row[c].strip():
                raise EditbenchError(f"{where}: column {c!r} must be a non-empty string, not {row[c]!r}.")
        if row["instruction_language"] not in ("en", "cn"):
            raise EditbenchError(f"{where}: column 'instruction_language' must be en or cn, not {row['instruction_language']!r}.")
        if opts.language is None or row["instruction_language"] == opts.language:
            rows.append((where, row))
    counts = Counter(r["key"] for _, r in rows)
    folder = beside(opts, "images")
    tasks, extra = [], {}
    for where, row in rows[: opts.n] if opts.n else rows:
        lang = row["instruction_language"]
        tid = sanitise_id(row["key"] + (f"-{lang}" if counts[row["key"]] > 1 else ""))
        path = folder / f"{tid}.png"
        extra[path] = png_bytes(image_cell(row["input_image"], where=f"{where} column 'input_image'"))
        tasks.append({"task_id": tid, "kind": "instruct", "image": path, "instruction": row["instruction"],
                      "meta": {"source_id": row["key"], "task_type": row["task_type"], "language": lang}})
    info = DatasetInfo(**INFO, version=f"parquet sha256 {sha256_files(files)}")
    return Draft(tasks=tasks, pipelines=["instruct-pix2pix"], scorers=["latency"],
                 description=info.sentence(len(tasks)), extra_files=extra, sweep=["task_type", "language"])
