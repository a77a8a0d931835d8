"""Decoding shared by the importers of published benchmarks (pie-bench, brushbench, magicbrush, emu-edit,
gedit-bench, imgedit): RLE masks, mapping files, Parquet tables with image bytes, dataset ids.

Every reader refuses a file that does not match its format with one sentence naming the file and the
field (an :class:`~harness.core.errors.EditbenchError`; the CLI exits 2). Nothing here downloads anything:
Parquet tables are read from a local folder (a dataset's own ``data/`` folder or a snapshot folder of the
local Hugging Face datasets cache).

RLE conventions (both row-major over an H x W array, pairs ``[start, length, start, length, ...]``):

- PIE-Bench (PnPInversion ``evaluation/evaluate.py: mask_decode``): **0-indexed** starts, 1 = edit
  region, each run clipped at the end of the array, then the one-pixel border forced to 1 ("to avoid
  annotation errors in boundary");
- BrushBench (BrushNet ``examples/brushnet/evaluate_brushnet.py: rle2mask``): **1-indexed** starts
  (``starts -= 1``), 1 = the region to paint, no border rule.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np

from harness.core.errors import EditbenchError
from harness.core.storage import MAX_NAME_LEN, confined

RLE_SHAPE = (512, 512)   # both benchmarks store 512 x 512 masks


@dataclass(frozen=True)
class DatasetInfo:
    """What a suite records about the dataset it was imported from (written into its description)."""

    name: str           # e.g. "PIE-Bench"
    source: str         # where to get it
    licence: str        # licence / terms, as the dataset states them
    version: str        # what identifies the copy read: a file's sha256, or the parquet files' sha256

    def sentence(self, n: int, extra: str = "") -> str:
        return (f"{self.name}: {n} tasks imported from its own layout ({self.source}); licence/terms: "
                f"{self.licence}; dataset version {self.version}.{(' ' + extra) if extra else ''}")


def rle_decode(rle: Any, *, base: Literal[0, 1], shape: tuple[int, int] = RLE_SHAPE, where: str) -> np.ndarray:
    """Bool mask (H, W) of a flat row-major RLE ``[start, length, ...]`` with ``base``-indexed starts.

    Refuses (naming ``where``) anything but an even-length list of non-negative integers, a start
    before ``base`` or past the array. A run longer than what is left of the array is clipped to it, as
    both original decoders do (PIE: ``min(len, length - start)``; BrushBench: numpy slicing).
    """
    h, w = shape
    n = h * w
    if not isinstance(rle, list) or len(rle) % 2:
        raise EditbenchError(f"{where} must be a list [start, length, ...] of even length, not {_show(rle)}.")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in rle):
        bad = next(v for v in rle if not (isinstance(v, int) and not isinstance(v, bool) and v >= 0))
        raise EditbenchError(f"{where} must hold non-negative integers; it holds {bad!r}.")
    flat = np.zeros(n, dtype=bool)
    for start, length in zip(rle[0::2], rle[1::2]):
        s = start - base
        if s < 0 or s >= n:
            raise EditbenchError(f"{where} has a run starting at {start}, outside 0..{n - 1 + base} "
                                 f"({base}-indexed starts over {h}x{w}).")
        flat[s:s + length] = True
    return flat.reshape(h, w)


def pie_mask(rle: Any, *, where: str) -> np.ndarray:
    """PIE-Bench's edit mask: 0-indexed RLE over 512 x 512, then its one-pixel border forced to 1."""
    m = rle_decode(rle, base=0, where=where)
    m[0, :] = m[-1, :] = m[:, 0] = m[:, -1] = True
    return m


def strip_brackets(prompt: str) -> str:
    """PIE-Bench's prompt as its evaluation feeds it to CLIP: ``[`` and ``]`` removed (words kept)."""
    return prompt.replace("[", "").replace("]", "")


def sanitise_id(raw: Any) -> str:
    """A task id from a dataset id: characters outside harness.core.storage.SAFE_NAME become ``_``."""
    s = re.sub(r"[^A-Za-z0-9._\-\[\]=,]", "_", str(raw))
    s = "_" + s[1:] if s.startswith(".") else s
    return s[:MAX_NAME_LEN - 40] or "_"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_files(paths: list[Path]) -> str:
    """One sha256 over several files (their own sha256 in order)."""
    return hashlib.sha256("".join(sha256_file(p) for p in paths).encode()).hexdigest()


def _show(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def read_json_mapping(path: Path, *, what: str) -> dict[str, dict]:
    """A JSON object ``{id: {field: value}}`` (PIE-Bench / BrushBench ``mapping_file.json``, ImgEdit
    ``basic_edit.json``); refuses a missing file, bad JSON, or an entry that is not an object."""
    path = Path(path)
    if not path.is_file():
        raise EditbenchError(f"{what} {path} does not exist.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EditbenchError(f"{what} {path} is not valid JSON ({type(e).__name__}: {str(e).splitlines()[0]}).") from None
    if not isinstance(data, dict) or not data:
        raise EditbenchError(f"{what} {path} must be a non-empty JSON object {{id: {{...}}}}.")
    for key, item in data.items():
        if not isinstance(item, dict):
            raise EditbenchError(f"{what} {path}: entry {key!r} must be an object, not {type(item).__name__}.")
    return data


def field(item: dict, name: str, kind: type | tuple[type, ...], *, where: str) -> Any:
    """``item[name]`` checked to be of ``kind`` (a non-empty string when ``kind`` is str)."""
    if name not in item:
        raise EditbenchError(f"{where} lacks the field {name!r}.")
    v = item[name]
    if not isinstance(v, kind) or isinstance(v, bool) or (isinstance(v, str) and not v.strip()):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise EditbenchError(f"{where}: field {name!r} must be a non-empty {want}, not {_show(v)}.")
    return v


def inside(root: Path, rel: str, *, where: str) -> Path:
    """``root / rel`` as an existing file that lies inside ``root`` (no ``..`` escapes)."""
    try:
        p = confined(root, rel)
    except EditbenchError:
        raise EditbenchError(f"{where} names {rel!r}, which lies outside {root}.") from None
    if not p.is_file():
        raise EditbenchError(f"{where} names {rel!r}, but {p} does not exist.")
    return p


def parquet_files(root: Path, *, split: str | None = None, what: str) -> list[Path]:
    """The ``*.parquet`` files under ``root`` (recursively, sorted by path), those whose name starts with
    ``split`` when given (Hugging Face shards are named ``<split>-00000-of-0000N.parquet``). Without any,
    the ``*.arrow`` files of the ``datasets`` library's cache (``<name>-<split>-0000N-of-0000M.arrow``,
    Arrow IPC streams), those whose name holds ``-<split>`` when given."""
    root = Path(root)
    if not root.is_dir():
        raise EditbenchError(f"--root {root} is not a folder ({what} is read from its parquet files).")

    def found(ext: str) -> list[Path]:
        return sorted((p for p in root.rglob(f"*.{ext}") if p.is_file()), key=lambda p: p.relative_to(root).as_posix())

    files = found("parquet")
    if split is not None:
        files = [p for p in files if p.name.startswith(split)]
    if not files:
        files = [p for p in found("arrow") if split is None or f"-{split}" in p.name]
    if not files:
        only = f" named {split}-*.parquet" if split else ""
        raise EditbenchError(f"--root {root} holds no parquet files{only} nor a datasets cache's .arrow files ({what}).")
    return files


def _batches(path: Path, columns: tuple[str, ...]) -> Iterator:
    """Record batches of ``columns`` of a Parquet file or an Arrow IPC stream (a datasets cache file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = "Arrow" if path.suffix == ".arrow" else "Parquet"
    try:
        if kind == "Parquet":
            pf = pq.ParquetFile(path)
            names = pf.schema_arrow.names
        else:
            reader = pa.ipc.open_stream(pa.memory_map(str(path)))
            names = reader.schema.names
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a file of another format
        raise EditbenchError(f"{path} cannot be read as {kind} ({type(e).__name__}).") from None
    missing = [c for c in columns if c not in names]
    if missing:
        raise EditbenchError(f"{path} lacks the column(s) {missing}; it has {sorted(names)}.")
    if kind == "Parquet":
        yield from pf.iter_batches(batch_size=64, columns=list(columns))
    else:
        for batch in reader:
            yield batch.select(list(columns))


def parquet_rows(files: list[Path], *, columns: tuple[str, ...]) -> Iterator[tuple[str, dict]]:
    """(``file row i``, row) of every row of ``files``, reading only ``columns`` (all must exist)."""
    for path in files:
        i = 0
        for batch in _batches(path, columns):
            for row in batch.to_pylist():
                yield f"{path} row {i}", row
                i += 1


def image_cell(cell: Any, *, where: str) -> np.ndarray:
    """RGB uint8 (H, W, 3) of a Parquet image cell: Hugging Face's ``{"bytes": ..., "path": ...}`` struct
    or raw encoded bytes."""
    from PIL import Image, UnidentifiedImageError

    data = cell.get("bytes") if isinstance(cell, dict) else cell
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise EditbenchError(f"{where} holds no image bytes (found {type(data).__name__}).")
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise EditbenchError(f"{where} cannot be decoded as an image ({type(e).__name__}).") from None


def white_mask(image: np.ndarray) -> np.ndarray:
    """Bool mask of a mask image stored white = edit region: gray (ITU-R 601 luma) above 127."""
    rgb = np.asarray(image, dtype=np.float32)
    gray = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return gray > 127
