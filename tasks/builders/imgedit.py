"""``imgedit``: a suite from ImgEdit-Basic (ImgEdit, Ye et al. 2025; github.com/PKU-YuanGroup/ImgEdit).

``--root`` is its single-turn benchmark folder::

    basic_edit.json      {key: {id: "animal/000342021.jpg", prompt, edit_type}}   (737 items, 9 edit types)
    <id>                 the source images, relative to --root (or to --images when given)

One ``instruct`` task per key, id = key (sanitised; original in ``meta.source_id``), ``instruction`` =
``prompt``, ``meta.edit_type`` the declared report axis. The ``precomputed`` pipeline's ``imgedit``
layout reads a method's outputs as ``<key>.png``. ImgEdit's own scores come from a VLM judge.
"""

from __future__ import annotations

from pathlib import Path

from tasks.builders.benchmark_formats import DatasetInfo, field, inside, read_json_mapping, sanitise_id, sha256_file
from tasks.builders.common import BuildOptions, Draft

MAPPING = "basic_edit.json"
INFO = dict(name="ImgEdit-Basic", source="github.com/PKU-YuanGroup/ImgEdit (Benchmark: basic_edit.json and images)",
            licence="as stated by the ImgEdit repository; images keep their sources' terms")


class ImgEditOptions(BuildOptions):
    root: Path
    images: Path | None = None       # folder the ``id`` paths are relative to (default --root)
    n: int | None = None


def draft_imgedit(opts: ImgEditOptions) -> Draft:
    root = Path(opts.root).resolve()
    mapping = root / MAPPING
    entries = read_json_mapping(mapping, what="ImgEdit mapping file")
    images = Path(opts.images).resolve() if opts.images else root
    tasks = []
    for key, item in list(entries.items())[: opts.n] if opts.n else entries.items():
        where = f"{mapping} entry {key!r}"
        rel = field(item, "id", str, where=where)
        tasks.append({"task_id": sanitise_id(key), "kind": "instruct",
                      "image": inside(images, rel, where=f"{where} field 'id'"),
                      "instruction": field(item, "prompt", str, where=where),
                      "meta": {"source_id": str(key), "image_path": rel,
                               "edit_type": field(item, "edit_type", str, where=where)}})
    info = DatasetInfo(**INFO, version=f"{MAPPING} sha256 {sha256_file(mapping)}")
    return Draft(tasks=tasks, pipelines=["instruct-pix2pix"], scorers=["latency"],
                 description=info.sentence(len(tasks)), sweep=["edit_type"])
