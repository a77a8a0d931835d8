"""Regenerate the built-in CPU smoke suites (tasks/suites/smoke-*.yaml) from images shipped in packages.

    python -m tasks.builders.builtin [OUT_DIR]      # default: tasks/suites/

The suites reference their images through ``pkg:`` data roots (scikit-image's ``data/`` folder and
insightface's ``data/images/``), so they need no user data and no download. Running this twice, on any
machine with the same package versions, writes byte-identical files (a test checks the committed ones).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tasks.builders.common import BuildOptions, Draft, write_suite
from tasks.builders.face_regen import FaceRegenOptions, draft_face_regen
from tasks.builders.simple import OutpaintOptions, RemovalOptions, draft_outpaint, draft_removal
from tasks.schema import SUITES_DIR, resolve_data_root

SKIMAGE = "pkg:skimage/data"
INSIGHTFACE = "pkg:insightface/data/images"
CPU_PIPELINES = ["cv2-telea", "cv2-ns", "patchmatch"]
CPU_SCORERS = ["texture", "seam", "background", "latency"]
HEADER = ("Built-in CPU smoke suite, written by `python -m tasks.builders.builtin` (tasks/builders/builtin.py);\n"
          "regenerate it there instead of editing this file.")

# Objects to remove (x0, y0, x1, y1, px), picked by eye on scikit-image's images.
REMOVAL_BOXES = [
    ("astronaut.png", 350, 0, 470, 280),   # the space shuttle model
    ("astronaut.png", 130, 345, 210, 425),  # the mission patch
    ("coffee.png", 320, 60, 430, 330),      # the spoon
    ("rocket.jpg", 430, 120, 480, 400),     # the right-hand launch tower
]
OUTPAINT_IMAGES = ["astronaut.png", "chelsea.png", "coffee.png"]
OUTPAINT_ASPECT = "4:3"
FACE_SCORERS = ["identity", "face_pose", "seam", "background", "latency"]
FACE_VARIANTS = ["ellipse", "ellipse-wide", "box"]
FACE_REGEN_20 = 20   # tasks of face-regen-20: every bundled face's ellipse, then ellipse-wide, then box masks
FACE_IMAGES = [(INSIGHTFACE, "t1.jpg"), (INSIGHTFACE, "Tom_Hanks_54745.png"), (SKIMAGE, "astronaut.png")]


def _links(tmp: Path, files: list[tuple[str, str]]) -> Path:
    """A folder of symlinks to package files (builders read folders; the suite records the real paths)."""
    folder = tmp / "images"
    folder.mkdir()
    for root, name in files:
        (folder / name).symlink_to(resolve_data_root(root, tmp) / name)
    return folder


def _opts(out: Path, name: str, description: str, scorers: list[str] = CPU_SCORERS) -> BuildOptions:
    return BuildOptions(out=out / f"{name}.yaml", name=name, version="1", description=description,
                        pipelines=CPU_PIPELINES, scorers=scorers, seeds=[0])


def build_builtin(out_dir: Path = SUITES_DIR) -> list[Path]:
    """Write smoke-removal, smoke-outpaint, smoke-face-regen and face-regen-20 into ``out_dir``; returns
    their paths."""
    out_dir = Path(out_dir)
    written = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        (tmp / "r").mkdir()
        images = _links(tmp / "r", sorted({(SKIMAGE, b[0]) for b in REMOVAL_BOXES}))
        boxes = tmp / "boxes.csv"
        boxes.write_text("image,x0,y0,x1,y1\n" + "".join(",".join(map(str, b)) + "\n" for b in REMOVAL_BOXES))
        base = _opts(out_dir, "smoke-removal", "CPU smoke test: remove 4 boxed objects from scikit-image's photos.")
        draft = draft_removal(RemovalOptions(**base.model_dump(), images=images, boxes=boxes))
        written.append(_write(draft, base, SKIMAGE))

        (tmp / "o").mkdir()
        images = _links(tmp / "o", [(SKIMAGE, n) for n in OUTPAINT_IMAGES])
        base = _opts(out_dir, "smoke-outpaint",
                     f"CPU smoke test: extend 3 of scikit-image's photos to aspect ratio {OUTPAINT_ASPECT}.")
        draft = draft_outpaint(OutpaintOptions(**base.model_dump(), images=images, aspect=OUTPAINT_ASPECT))
        written.append(_write(draft, base, SKIMAGE))

        (tmp / "f").mkdir()
        images = _links(tmp / "f", FACE_IMAGES)
        base = _opts(out_dir, "smoke-face-regen", "CPU smoke test: regenerate every face detected in insightface's "
                     "group photo and portrait and scikit-image's astronaut.", FACE_SCORERS)
        draft = draft_face_regen(FaceRegenOptions(**base.model_dump(), images=images, n=1000))
        written.append(_write(draft, base, INSIGHTFACE, pkg_roots=(SKIMAGE,)))

        base = _opts(out_dir, "face-regen-20", f"Face regeneration on the bundled photos: {FACE_REGEN_20} tasks, every "
                     "face dlib finds in insightface's group photo and portrait and scikit-image's astronaut under "
                     "an ellipse mask, a wider ellipse and a box mask.", FACE_SCORERS)
        draft = draft_face_regen(FaceRegenOptions(**base.model_dump(), images=images, n=1000, variants=FACE_VARIANTS))
        rank = {v: i for i, v in enumerate(FACE_VARIANTS)}
        keep = sorted(draft.tasks, key=lambda t: rank[t["meta"].get("mask_variant", "ellipse")])[:FACE_REGEN_20]
        draft.tasks = [t for t in draft.tasks if any(t is k for k in keep)]
        written.append(_write(draft, base, INSIGHTFACE, pkg_roots=(SKIMAGE,)))
    return written


def _write(draft: Draft, opts: BuildOptions, data_root: str, pkg_roots: tuple[str, ...] = ()) -> Path:
    return write_suite(draft, opts, data_root=data_root, pkg_roots=pkg_roots, header=HEADER)


if __name__ == "__main__":
    for p in build_builtin(Path(sys.argv[1]) if len(sys.argv) > 1 else SUITES_DIR):
        print(p)
