"""What every suite builder shares: options, listing images, and writing a suite file deterministically.

Builders return a :class:`Draft` whose file references are absolute paths; :func:`write_suite` picks the
data root (the deepest folder holding every referenced file, or a given ``pkg:`` root), rewrites the
paths relative to it and writes YAML with sorted keys and no timestamps, so that building twice from
the same inputs gives a byte-identical file.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict

from harness.core.errors import EditbenchError
from harness.core.storage import MAX_NAME_LEN
from harness.pipelines.base import task_option_names
from tasks.schema import resolve_data_root, split_params

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
FILE_FIELDS = ("image", "mask", "control", "reference", "target")


class BuildOptions(BaseModel):
    """Options every builder takes (CLI flags of ``editbench suite build``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out: Path                                  # the suite YAML to write
    name: str | None = None                    # suite name (default: the file name without .yaml)
    version: str = "1"
    description: str | None = None             # default: a sentence naming the builder and its inputs
    pipelines: list[str] | None = None         # default pipelines (default: the builder's)
    seeds: list[int] = [0]
    scorers: list[str] | None = None           # default scorers (default: the builder's)
    prompt: str | None = None                  # prompt of every task (default: the builder's)
    negative_prompt: str | None = None
    prompts: Path | None = None                # CSV (image, prompt): per-image prompts, image relative to --images


def prompts_by_image(opts: BuildOptions, folder: Path | None) -> dict[Path, str]:
    """Per-image prompts from ``opts.prompts`` keyed by absolute image path (empty without the option)."""
    if opts.prompts is None:
        return {}
    base = Path(folder) if folder else Path(opts.prompts).parent
    return {under(base, r["image"]): r["prompt"].strip() for r in read_csv(opts.prompts, columns=("image", "prompt"))}


def under(folder: Path, rel: str) -> Path:
    """``folder / rel`` made absolute and normalised, without following symlinks."""
    return Path(os.path.normpath(Path(folder).absolute() / rel))


@dataclass
class Draft:
    """A suite before it is written: tasks hold absolute Paths where they reference files."""

    tasks: list[dict[str, Any]]
    pipelines: list            # names, or pipeline mappings (name, label, options, weights)
    scorers: list[str]
    description: str
    extra_files: dict[Path, bytes] = field(default_factory=dict)  # files to write (e.g. pose images)
    data_root: str | None = None           # None: the deepest folder holding every file; or a "pkg:" root
    pkg_roots: tuple[str, ...] = ()         # "pkg:" roots whose files are written as pkg:PACKAGE/... paths
    sweep: list[str] = field(default_factory=list)   # declared sweep axes (override or meta names)
    primary: str | None = None              # the suite's primary metric column; None: the task kind's default
    scorer_options: dict[str, dict] = field(default_factory=dict)   # scorer -> options written into the suite


def list_images(folder: Path, *, n: int | None = None) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted by relative path; the first ``n`` when given."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EditbenchError(f"--images {folder} is not a folder.")
    found = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS),
                   key=lambda p: p.relative_to(folder).as_posix())
    if not found:
        raise EditbenchError(f"--images {folder} holds no image files ({', '.join(IMAGE_EXTS)}).")
    return found[:n] if n else found


def stem_id(path: Path, folder: Path) -> str:
    """A task-id stem from an image path: its path under ``folder`` without extension, every character
    outside the safe set of task ids (harness.core.storage.SAFE_NAME, e.g. '/' or a space) -> '_'."""
    rel = path.relative_to(folder).with_suffix("")
    stem = re.sub(r"[^A-Za-z0-9._\-\[\]=,]", "_", rel.as_posix())
    return ("_" + stem[1:] if stem.startswith(".") else stem)[:MAX_NAME_LEN - 40]


def read_csv(path: Path, *, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV file with a header holding at least ``columns``; errors name file and line."""
    path = Path(path)
    if not path.is_file():
        raise EditbenchError(f"CSV file {path} does not exist.")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise EditbenchError(f"CSV file {path} lacks the column(s) {missing}; its header is {reader.fieldnames}.")
        rows = list(reader)
    for i, r in enumerate(rows, start=2):
        for c in columns:
            if not (r.get(c) or "").strip():
                raise EditbenchError(f"CSV file {path} line {i}: column {c!r} is empty.")
    return rows


def png_bytes(image: np.ndarray) -> bytes:
    """PNG file bytes of an RGB uint8 image, or of a bool mask (white = True = regenerate)."""
    from PIL import Image

    a = np.asarray(image)
    buf = io.BytesIO()
    Image.fromarray(a.astype(np.uint8) * 255 if a.dtype == bool else a).save(buf, format="PNG")
    return buf.getvalue()


def beside(opts: BuildOptions, suffix: str) -> Path:
    """The folder next to the suite file for the files a builder writes with it: ``<out stem>.<suffix>/``
    (pose images, mask files, images with holes)."""
    out = Path(opts.out)
    return out.resolve().parent / f"{out.stem}.{suffix}"


def mask_fraction(mask: np.ndarray) -> float:
    """Share of pixels to regenerate, rounded to 4 decimals (a report parameter: param.mask_fraction)."""
    return round(float(np.asarray(mask, dtype=bool).mean()), 4)


def _portable(path: Path, roots: list[tuple[str, Path]]) -> str:
    for i, (spec, root) in enumerate(roots):
        if path.is_relative_to(root):
            rel = path.relative_to(root).as_posix()
            return rel if i == 0 else f"{spec}/{rel}"
    raise EditbenchError(f"file {path} lies outside the data root {roots[0][1]}.")


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a shared mapping out in full each time: suite files never hold YAML aliases (the reader
    refuses them, harness.contract.spec.read_yaml)."""

    def ignore_aliases(self, data) -> bool:
        return True


def write_suite(draft: Draft, opts: BuildOptions, *, data_root: str | None = None,
                pkg_roots: tuple[str, ...] = (), header: str = "") -> Path:
    """Write ``draft`` to ``opts.out`` and return the path.

    ``data_root``: ``None`` = the deepest folder holding every referenced file (written relative to the
    suite file), or a ``pkg:`` root. Files under one of ``pkg_roots`` (``pkg:`` roots) are written as
    ``pkg:PACKAGE/...`` paths instead.
    """
    out = Path(opts.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    for p, data in sorted(draft.extra_files.items()):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    files = [Path(t[f]).resolve() for t in draft.tasks for f in FILE_FIELDS if isinstance(t.get(f), Path)]
    extra = [(s, resolve_data_root(s, out.parent)) for s in pkg_roots]
    if data_root is None:
        mine = [f for f in files if not any(f.is_relative_to(r) for _, r in extra)]
        root = Path(os.path.commonpath([f.parent for f in mine])) if mine else out.parent
        data_root = Path(os.path.relpath(root, out.parent)).as_posix()
    roots = [(data_root, resolve_data_root(data_root, out.parent)), *extra]
    tasks = []
    for t in draft.tasks:
        t = {k: (_portable(Path(v).resolve(), roots) if isinstance(v, Path) else v) for k, v in t.items()}
        over, meta = split_params(t.pop("params", None) or {}, task_option_names(t.get("kind")))
        t["overrides"] = {**(t.get("overrides") or {}), **over}   # a builder's params win over the base task's
        t["meta"] = {**(t.get("meta") or {}), **meta}
        tasks.append({k: v for k, v in t.items() if v not in (None, "", {})})
    ids = [t["task_id"] for t in tasks]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise EditbenchError(f"the builder made repeated task ids {dup[:5]}; image names must differ.")
    doc = {
        "name": opts.name or out.stem,
        "version": opts.version,
        "description": opts.description or draft.description,
        "data_root": data_root,
        "pipelines": list(opts.pipelines) if opts.pipelines is not None else draft.pipelines,
        "seeds": list(opts.seeds),
        "scorers": list(opts.scorers) if opts.scorers is not None else draft.scorers,
        "tasks": tasks,
    }
    if draft.sweep:
        doc["sweep"] = list(draft.sweep)
    if draft.primary and (opts.scorers is None or draft.primary.split(".")[0] in opts.scorers):
        doc["primary"] = draft.primary
    used = {k: v for k, v in draft.scorer_options.items() if k in doc["scorers"]}
    if used:
        doc["scorer_options"] = used
    text = yaml.dump(doc, Dumper=_NoAliasDumper, sort_keys=True, default_flow_style=None, width=110,
                     allow_unicode=True)
    head = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    out.write_text(head + text)
    return out
