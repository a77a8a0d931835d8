"""``emu-edit``: a suite from the Emu Edit test set (Sheynin et al. 2024; Hugging Face
``facebook/emu_edit_test_set``, parquet; CC-BY-NC-4.0 as its dataset card states).

``--root`` holds its parquet shards (``--split validation`` / ``test`` keeps those shards). Columns
``instruction``, ``image`` (bytes, written as PNGs beside the suite), ``task`` (background, global, style,
remove, add, local, texture: the declared report axis ``task``), ``split``, ``idx``, ``input_caption``,
``output_caption``. No targets. One ``instruct`` task per row, id ``<split>-<idx>`` (the dataset's idx
counts within a split), ``instruction``; ``prompt`` = ``output_caption`` (what CLIP-T reads).

Known data bug: some rows have ``input_caption == output_caption`` (the edit is not described by the
captions, so caption-based metrics are meaningless on them). They are kept with ``meta.identical_captions
= true`` and counted, with their ids, in the suite's description; ``--drop-identical`` leaves them out.
"""

from __future__ import annotations

from pathlib import Path

from harness.core.errors import EditbenchError
from tasks.builders.benchmark_formats import DatasetInfo, image_cell, parquet_files, parquet_rows, sanitise_id, sha256_files
from tasks.builders.common import BuildOptions, Draft, beside, png_bytes

COLUMNS = ("instruction", "image", "task", "split", "idx", "input_caption", "output_caption")
INFO = dict(name="Emu Edit test set", source="Hugging Face facebook/emu_edit_test_set (parquet)",
            licence="CC-BY-NC-4.0 (non-commercial), as the dataset card states")


class EmuEditOptions(BuildOptions):
    root: Path
    split: str | None = None            # keep shards named <split>-*.parquet (validation, test)
    drop_identical: bool = False        # leave out rows with input_caption == output_caption
    n: int | None = None


def draft_emu_edit(opts: EmuEditOptions) -> Draft:
    root = Path(opts.root).resolve()
    files = parquet_files(root, split=opts.split, what="the Emu Edit test set")
    folder = beside(opts, "images")
    tasks, extra, identical = [], {}, []
    for where, row in parquet_rows(files, columns=COLUMNS):
        if opts.n and len(tasks) >= opts.n:
            break
        for c in ("instruction", "task", "split", "input_caption", "output_caption"):
            if not isinstance(row[c], str) or not row[c].strip():
                raise EditbenchError(f"{where}: column {c!r} must be a non-empty string, not {row[c]!r}.")
        if not isinstance(row["idx"], (int, str)) or str(row["idx"]) == "":
            raise EditbenchError(f"{where}: column 'idx' must be an id, not {row['idx']!r}.")
        tid = sanitise_id(f"{row['split']}-{row['idx']}")
        same = row["input_caption"].strip() == row["output_caption"].strip()
        if same:
            identical.append(tid)
            if opts.drop_identical:
                continue
        path = folder / f"{tid}.png"
        extra[path] = png_bytes(image_cell(row["image"], where=f"{where} column 'image'"))
        meta = {"source_id": str(row["idx"]), "split": row["split"], "task": row["task"],
                "input_caption": row["input_caption"], "output_caption": row["output_caption"]}
        if same:
            meta["identical_captions"] = True
        tasks.append({"task_id": tid, "kind": "instruct", "image": path, "instruction": row["instruction"],
                      "prompt": row["output_caption"], "meta": meta})
    if not tasks:
        raise EditbenchError(f"--root {root}: no Emu Edit rows left to import.")
    shown = ", ".join(identical[:10]) + (", ..." if len(identical) > 10 else "")
    bug = (f"Known data bug: {len(identical)} rows have input_caption == output_caption"
           f"{' (dropped)' if opts.drop_identical else ' (kept, meta.identical_captions)'}"
           f"{': ' + shown if identical else ''}.")
    info = DatasetInfo(**INFO, version=f"parquet sha256 {sha256_files(files)}")
    return Draft(tasks=tasks, pipelines=["instruct-pix2pix"], scorers=["clip", "latency"],
                 description=info.sentence(len(tasks), bug), extra_files=extra, sweep=["task"])
