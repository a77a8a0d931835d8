"""Does dlib's identity distance and the 68-landmark pose error mean what they claim? Real faces, known edits.

    python bench/identity_validity.py

Faces: every face dlib's HOG detector finds in the bundled photos (insightface's t1.jpg and
Tom_Hanks_54745.png, scikit-image's astronaut), each cut out with a margin of 60 % of its box on every side.
Prints, with dlib's ResNet descriptor (:func:`harness.dlib_faces.face_descriptor`) and the 68-point
predictor, the ranges (min-max, median) of:

- same face under benign transforms: blur sigma 1.5, JPEG quality 15, mirror, rescale x 0.5, brightness +30;
- different people: every pair of different faces;
- another person's face pasted over the face box (resized, elliptical feathered blend);
- the 300-W NME and the roll difference under known shifts (5 %, 15 % of the box) and in-plane rotations
  (5, 10, 20 degrees) of the face crop.

It prints figures; it asserts nothing (tests/scorers/test_identity_dlib.py asserts the orderings).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.core.imageio import load_image  # noqa: E402
from harness.dlib_faces import detect_dlib, face_descriptor, shape_points  # noqa: E402
from harness.head_pose import angle_delta, head_pose, nme  # noqa: E402
from tasks.schema import resolve_data_root  # noqa: E402

PHOTOS = [("pkg:insightface/data/images", "t1.jpg"), ("pkg:insightface/data/images", "Tom_Hanks_54745.png"),
          ("pkg:skimage/data", "astronaut.png")]
MARGIN = 0.6


def face_crops() -> list[tuple[str, np.ndarray]]:
    """(name, crop) of every face dlib finds in the bundled photos, with MARGIN around its box."""
    out = []
    for root, name in PHOTOS:
        img = load_image(resolve_data_root(root, Path.cwd()) / name)
        for k, f in enumerate(detect_dlib(img)):
            x0, y0, x1, y1 = f.box
            mx, my = MARGIN * (x1 - x0), MARGIN * (y1 - y0)
            h, w = img.shape[:2]
            c = img[max(0, int(y0 - my)):min(h, int(y1 + my)), max(0, int(x0 - mx)):min(w, int(x1 + mx))]
            out.append((f"{Path(name).stem}-{k}", np.ascontiguousarray(c)))
    return out


def blur(img, sigma=1.5):
    import cv2

    return cv2.GaussianBlur(img, (0, 0), sigma)


def jpeg(img, quality=15):
    import cv2

    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def rescale(img, factor=0.5):
    import cv2

    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, int(w * factor)), max(1, int(h * factor))), interpolation=cv2.INTER_AREA)


def brighter(img, delta=30):
    return np.clip(img.astype(np.int16) + delta, 0, 255).astype(np.uint8)


def mirror(img):
    return np.ascontiguousarray(img[:, ::-1])


def shift(img, frac, box):
    """Translate by ``frac`` of the box width to the right (edge pixels repeated)."""
    import cv2

    dx = frac * (box[2] - box[0])
    m = np.float32([[1, 0, dx], [0, 1, 0]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REPLICATE)


def rotate(img, degrees, box):
    import cv2

    c = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    m = cv2.getRotationMatrix2D(c, degrees, 1.0)
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REPLICATE)


def paste(img, box, other, other_box):
    """``other``'s face box resized onto ``img``'s face box, blended with a feathered ellipse."""
    import cv2

    x0, y0, x1, y1 = (int(v) for v in box)
    ox0, oy0, ox1, oy1 = (int(v) for v in other_box)
    patch = cv2.resize(other[oy0:oy1, ox0:ox1], (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    if patch.ndim == 2 or patch.shape[2] == 1:
        patch = np.repeat(patch.reshape(patch.shape[0], patch.shape[1], 1), 3, axis=2)
    alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.ellipse(alpha, ((x1 - x0) // 2, (y1 - y0) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, (x1 - x0) / 20))[..., None]
    out = img.copy()
    out[y0:y1, x0:x1] = (alpha * patch + (1 - alpha) * out[y0:y1, x0:x1]).astype(np.uint8)
    return out


def main_face(img):
    faces = detect_dlib(img)
    return faces[0] if faces else None


def distance(a_img, a_face, b_img) -> float:
    """dlib distance between ``a_face`` of ``a_img`` and the largest face of ``b_img`` (inf: none found)."""
    b = main_face(b_img)
    if b is None:
        return float("inf")
    return float(np.linalg.norm(face_descriptor(a_img, a_face.box) - face_descriptor(b_img, b.box)))


def _range(vals) -> str:
    v = np.asarray([x for x in vals if np.isfinite(x)])
    lost = sum(1 for x in vals if not np.isfinite(x))
    if not len(v):
        return f"none found ({lost} lost)"
    return f"{v.min():.2f}-{v.max():.2f} (median {np.median(v):.2f}, n {len(v)}" + (f", {lost} lost)" if lost else ")")


def main() -> None:
    crops = [(n, c, main_face(c)) for n, c in face_crops()]
    crops = [(n, c, f) for n, c, f in crops if f is not None]
    print(f"{len(crops)} faces: {', '.join(n for n, _, _ in crops)}")
    benign = {"blur 1.5": blur, "jpeg 15": jpeg, "mirror": mirror, "rescale 0.5": rescale, "brightness +30": brighter}
    for label, fn in benign.items():
        print(f"same face, {label:15s} {_range([distance(c, f, fn(c)) for _, c, f in crops])}")
    descs = [face_descriptor(c, f.box) for _, c, f in crops]
    diff = [float(np.linalg.norm(a - b)) for a, b in itertools.combinations(descs, 2)]
    print(f"different people         {_range(diff)}")
    pasted = []
    for (_, c, f), (_, o, of) in zip(crops, crops[1:] + crops[:1]):
        pasted.append(distance(c, f, paste(c, f.box, o, of.box)))
    print(f"other face pasted in     {_range(pasted)}")
    for label, fn in [("shift 5 %", lambda c, b: shift(c, 0.05, b)), ("shift 15 %", lambda c, b: shift(c, 0.15, b)),
                      ("rotate 5", lambda c, b: rotate(c, 5, b)), ("rotate 10", lambda c, b: rotate(c, 10, b)),
                      ("rotate 20", lambda c, b: rotate(c, 20, b)), ("blur 1.5", lambda c, b: blur(c)),
                      ("jpeg 15", lambda c, b: jpeg(c))]:
        errs, rolls = [], []
        for _, c, f in crops:
            moved = fn(c, f.box)
            g = main_face(moved)
            if g is None:
                errs.append(float("inf"))
                continue
            ref, out = shape_points(c, f.box, points=68), shape_points(moved, g.box, points=68)
            errs.append(nme(ref, out))
            rolls.append(angle_delta(head_pose(ref, c.shape[:2])[2], head_pose(out, c.shape[:2])[2]))
        print(f"landmarks, {label:12s}  NME {_range(errs)}; roll delta {_range(rolls)} deg")


if __name__ == "__main__":
    main()
