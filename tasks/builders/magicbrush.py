"""``magicbrush``: a suite from MagicBrush (Zhang et al. 2023; Hugging Face ``osunlp/MagicBrush``, CC-BY-4.0).

``--root`` is a folder holding its parquet shards (the dataset's ``data/`` folder, or its snapshot in the
local Hugging Face datasets cache); ``--split dev`` keeps the ``dev-*.parquet`` shards. Columns ``img_id``,
``turn_index``, ``source_img``, ``mask_img`` (white = edit region), ``instruction``, ``target_img``; images
are stored as bytes and written as PNGs beside the suite (``<suite>.images/``).

``--mode turn`` (default): one task per (session, turn), id ``<img_id>-t<turn>``: ``image`` = the turn's
source (for turn > 1 the previous turn's ground truth, MagicBrush's single-turn setting), ``mask`` = its
mask, ``instruction``, ``target`` = its target. ``--mode session``: one task per session, id ``<img_id>``,
MagicBrush's multi-turn setting scored at the last turn: ``image`` = turn 1's source, ``target`` = the last
turn's target, ``instruction`` = the first turn's, ``meta.instructions`` = every turn's in order. The runner
does not feed a pipeline's output into the next turn, so a session task is for outputs made elsewhere
(the ``precomputed`` pipeline) or for one-shot pipelines given the first instruction.

``--kind instruct`` (default) or ``inpaint`` (the mask's region regenerated with ``prompt`` = the
instruction; the classical floors run it). Meta: ``source_id`` (img_id), ``turn``, ``turns``.
Default scorers ``magicbrush`` (L1, CLIP-I, DINO, CLIP-T; scorers/magicbrush.py) and ``latency``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from harness.core.errors import EditbenchError
from tasks.builders.benchmark_formats import (
    DatasetInfo,
    image_cell,
    parquet_files,
    parquet_rows,
    sanitise_id,
    sha256_files,
    white_mask,
)
from tasks.builders.common import BuildOptions, Draft, beside, mask_fraction, png_bytes

COLUMNS = ("img_id", "turn_index", "source_img", "mask_img", "instruction", "target_img")
INFO = dict(name="MagicBrush", source="Hugging Face osunlp/MagicBrush (parquet)", licence="CC-BY-4.0")


class MagicBrushOptions(BuildOptions):
    root: Path                                         # folder with the parquet shards
    split: str | None = None                           # keep shards named <split>-*.parquet (e.g. dev)
    mode: Literal["turn", "session"] = "turn"
    task_kind: Literal["instruct", "inpaint"] = "instruct"   # --kind
    n: int | None = None                               # first N tasks


def _turns(files: list[Path]) -> dict[str, dict[int, tuple[str, dict]]]:
    sessions: dict[str, dict[int, tuple[str, dict]]] = {}
    for where, row in parquet_rows(files, columns=COLUMNS):
        sid, turn = row["img_id"], row["turn_index"]
        if not isinstance(sid, (str, int)) or str(sid) == "":
            raise EditbenchError(f"{where}: column 'img_id' must be a non-empty id, not {sid!r}.")
        if not isinstance(turn, int) or turn < 1:
            raise EditbenchError(f"{where}: column 'turn_index' must be an integer >= 1, not {turn!r}.")
        if not isinstance(row["instruction"], str) or not row["instruction"].strip():
            raise EditbenchError(f"{where}: column 'instruction' is empty.")
        turns = sessions.setdefault(str(sid), {})
        if turn in turns:
            raise EditbenchError(f"{where}: session {sid!r} repeats turn {turn} (first at {turns[turn][0]}).")
        turns[turn] = (where, row)
    for sid, turns in sessions.items():
        if sorted(turns) != list(range(1, len(turns) + 1)):
            raise EditbenchError(f"MagicBrush session {sid!r} has turns {sorted(turns)}; expected 1..{len(turns)} "
                                 f"(first row at {min(turns.values())[0]}).")
    return sessions


def draft_magicbrush(opts: MagicBrushOptions) -> Draft:
    root = Path(opts.root).resolve()
    files = parquet_files(root, split=opts.split, what="MagicBrush")
    sessions = _turns(files)
    folder = beside(opts, "images")
    tasks, extra = [], {}

    def write(name: str, cell, where: str, *, mask: bool = False):
        img = image_cell(cell, where=where)
        arr = white_mask(img) if mask else img
        path = folder / name
        extra[path] = png_bytes(arr)
        return path, arr

    for sid in sorted(sessions, key=lambda s: (len(s), s)):
        turns = sessions[sid]
        chosen = sorted(turns) if opts.mode == "turn" else [1]
        for turn in chosen:
            if opts.n and len(tasks) >= opts.n:
                break
            where, row = turns[turn]
            last_where, last = turns[max(turns)]
            tid = sanitise_id(sid) + (f"-t{turn}" if opts.mode == "turn" else "")
            image, src = write(f"{tid}_source.png", row["source_img"], f"{where} column 'source_img'")
            mpath, m = write(f"{tid}_mask.png", row["mask_img"], f"{where} column 'mask_img'", mask=True)
            end = row if opts.mode == "turn" else last
            tpath, tgt = write(f"{tid}_target.png", end["target_img"],
                               f"{where if opts.mode == 'turn' else last_where} column 'target_img'")
            for what, arr in (("mask_img", m), ("target_img", tgt)):
                if arr.shape[:2] != src.shape[:2]:
                    raise EditbenchError(f"{where}: column {what!r} is {arr.shape[1]}x{arr.shape[0]}, its source_img "
                                         f"{src.shape[1]}x{src.shape[0]}.")
            task = {"task_id": tid, "kind": opts.task_kind, "image": image, "mask": mpath, "target": tpath,
                    "meta": {"source_id": sid, "turn": turn, "turns": len(turns), "mask_fraction": mask_fraction(m)}}
            if opts.task_kind == "instruct":
                task["instruction"] = row["instruction"]
            else:
                task["prompt"] = row["instruction"]
            if opts.mode == "session":
                task["meta"]["instructions"] = [turns[t][1]["instruction"] for t in sorted(turns)]
            tasks.append(task)
    info = DatasetInfo(**INFO, version=f"parquet sha256 {sha256_files(files)}")
    return Draft(tasks=tasks, pipelines=["instruct-pix2pix"] if opts.task_kind == "instruct" else ["cv2-telea", "cv2-ns"],
                 scorers=["magicbrush", "latency"], description=info.sentence(len(tasks), f"Mode: {opts.mode}."),
                 extra_files=extra, primary="magicbrush.l1")
