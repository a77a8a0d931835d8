"""Small folders in each benchmark's exact layout, written by hand (independently of the importers).

``rle_encode`` is the reference encoder: runs of True in the row-major flattened mask, as
``[start + base, length, ...]``; the importers' decoders are checked against it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 512


def rle_encode(mask: np.ndarray, *, base: int) -> list[int]:
    flat = np.concatenate([[False], np.asarray(mask, bool).reshape(-1), [False]])
    edges = np.flatnonzero(flat[1:] != flat[:-1])
    starts, ends = edges[0::2], edges[1::2]
    out: list[int] = []
    for s, e in zip(starts, ends):
        out += [int(s) + base, int(e - s)]
    return out


def photo(seed: int, side: int = SIDE) -> np.ndarray:
    """A smooth, textured RGB image (so inpainting and SSIM have structure to work on)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = np.stack([np.sin(6 * x + seed) , np.cos(5 * y - seed), np.sin(4 * (x + y))], -1) * 90 + 128
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def box_mask(x0: int, y0: int, x1: int, y1: int, side: int = SIDE) -> np.ndarray:
    m = np.zeros((side, side), bool)
    m[y0:y1, x0:x1] = True
    return m


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


# PIE-Bench: three entries, two edit types; one id with a character outside the safe set.
PIE_ENTRIES = {
    "000000000000": ("0_random_140/000000000000.jpg", "a cat sitting on a wall", "a [tiger] sitting on a wall", "0",
                     (100, 120, 300, 360)),
    "111000000001": ("1_change_object_80/1_artificial/1_animal/111000000001.jpg", "a dog on grass",
                     "a [cat] on [sand]", "1", (40, 40, 200, 260)),
    "2 odd/id": ("2_add_object_80/odd.jpg", "a table", "a table with [a cup]", "2", (260, 200, 480, 420)),
}


def write_pie(root: Path) -> Path:
    for i, (rel, *_fields) in enumerate(PIE_ENTRIES.values()):
        p = root / "annotation_images" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo(i)).save(p, quality=95)
    mapping = {key: {"image_path": rel, "original_prompt": orig, "editing_prompt": edit,
                     "editing_instruction": f"Make it {edit}", "editing_type_id": etype,
                     "blended_word": "cat tiger", "mask": rle_encode(box_mask(*box), base=0)}
               for key, (rel, orig, edit, etype, box) in PIE_ENTRIES.items()}
    (root / "mapping_file.json").write_text(json.dumps(mapping))
    return root


def pie_reference_mask(box) -> np.ndarray:
    """PIE's decoded mask of a box, by hand: the box plus the one-pixel border."""
    m = box_mask(*box)
    m[0, :] = m[-1, :] = m[:, 0] = m[:, -1] = True
    return m


BRUSH_ENTRIES = {"img_0": ((60, 80, 260, 300), "a red car in a street"),
                 "img_1": ((10, 10, 500, 120), "a lighthouse at dusk")}


def write_brushbench(root: Path) -> Path:
    mapping = {}
    for i, (key, (box, caption)) in enumerate(BRUSH_ENTRIES.items()):
        rel = f"images/cat{i}/{key}.jpg"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo(10 + i)).save(root / rel, quality=95)
        inner = box_mask(*box)
        mapping[key] = {"image": rel, "caption": caption, "inpainting_mask": rle_encode(inner, base=1),
                        "outpainting_mask": rle_encode(~box_mask(100, 100, 412, 412), base=1)}
    (root / "mapping_file.json").write_text(json.dumps(mapping))
    return root


def _image_struct(arr: np.ndarray) -> dict:
    return {"bytes": png(arr), "path": None}


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def magicbrush_rows(side: int = 64) -> list[dict]:
    """Two sessions: 327726 with 2 turns (turn 2's source = turn 1's target), 1001 with 1 turn."""
    a, b, c = photo(20, side), photo(21, side), photo(22, side)
    m1 = np.zeros((side, side, 3), np.uint8)
    m1[10:30, 12:40] = 255                 # white = edit region
    m2 = np.zeros((side, side, 3), np.uint8)
    m2[40:60, 5:25] = 255
    return [
        {"img_id": "327726", "turn_index": 1, "source_img": _image_struct(a), "mask_img": _image_struct(m1),
         "instruction": "put a hat on the man", "target_img": _image_struct(b)},
        {"img_id": "327726", "turn_index": 2, "source_img": _image_struct(b), "mask_img": _image_struct(m2),
         "instruction": "make the sky pink", "target_img": _image_struct(c)},
        {"img_id": "1001", "turn_index": 1, "source_img": _image_struct(c), "mask_img": _image_struct(m1),
         "instruction": "remove the dog", "target_img": _image_struct(a)},
    ]


def emu_rows(side: int = 48) -> list[dict]:
    return [
        {"instruction": "make it snowy", "image": _image_struct(photo(30, side)), "task": "global", "split": "test",
         "idx": 0, "input_caption": "a street", "output_caption": "a snowy street"},
        {"instruction": "add a bird", "image": _image_struct(photo(31, side)), "task": "add", "split": "test",
         "idx": 1, "input_caption": "a tree", "output_caption": "a tree"},   # the known data bug
    ]


def gedit_rows(side: int = 48) -> list[dict]:
    return [
        {"task_type": "background_change", "key": "abc123", "instruction": "change the background to a beach",
         "instruction_language": "en", "input_image": _image_struct(photo(40, side))},
        {"task_type": "background_change", "key": "abc123", "instruction": "把背景换成海滩",
         "instruction_language": "cn", "input_image": _image_struct(photo(40, side))},
        {"task_type": "color_alter", "key": "def456", "instruction": "make the car blue",
         "instruction_language": "en", "input_image": _image_struct(photo(41, side))},
    ]


def write_imgedit(root: Path) -> Path:
    items = {"1": {"id": "animal/000342021.jpg", "prompt": "turn the cat into a fox", "edit_type": "replace"},
             "2": {"id": "style/000000077.jpg", "prompt": "make it a watercolor", "edit_type": "style"}}
    for i, item in enumerate(items.values()):
        p = root / item["id"]
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo(50 + i, 40)).save(p, quality=95)
    (root / "basic_edit.json").write_text(json.dumps(items))
    return root
