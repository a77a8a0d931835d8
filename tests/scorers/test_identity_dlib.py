"""Identity with dlib's ResNet descriptor and face pose with the 68-point predictor, on a real face.

The orderings a careful viewer expects, not fixed numbers: the same face blurred is the same person
(below dlib's 0.6), another person's face pasted in is farther than that, an erased face scores the
column's worst value and detected = 0, and a face that moved out of the mask is lost too.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from harness.core.imageio import load_image, mask_from_recipe
from scorers.face_pose import LOST_ANGLE, LOST_NME, FacePoseScorer
from scorers.identity import DLIB_MAX_DISTANCE, DLIB_THRESHOLD, IdentityScorer
from tasks.schema import resolve_data_root

FACE = (175, 76, 265, 166)          # dlib's box of the astronaut's face (x0, y0, x1, y1)
MASK = {"ellipse": [220, 121, 75, 82]}


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="module")
def other_face():
    """Rachel's face from insightface's t1.jpg (dlib box), another person."""
    img = load_image(resolve_data_root("pkg:insightface/data/images", Path.cwd()) / "t1.jpg")
    return img[270:400, 50:185]


@pytest.fixture(scope="module")
def dlib_identity():
    s = IdentityScorer(backend="dlib")
    s.check()
    s.load()
    return s


@pytest.fixture(scope="module")
def face_pose():
    s = FacePoseScorer()
    s.check()
    s.load()
    return s


def _paste(img, patch, box):
    import cv2

    x0, y0, x1, y1 = box
    out = img.copy()
    out[y0 - 10:y1 + 10, x0 - 10:x1 + 10] = cv2.resize(patch, (x1 - x0 + 20, y1 - y0 + 20), interpolation=cv2.INTER_AREA)
    return out


def _erase(img):
    out = img.copy()
    out[mask_from_recipe(MASK, img.shape[:2]) > 0] = (200, 120, 80)
    return out


def test_dlib_distance_orders_same_blurred_pasted_and_erased(dlib_identity, astronaut, other_face, task_of, out_of):
    import cv2

    task = task_of(astronaut, kind="face_regen", mask=MASK)
    outputs = {"same": astronaut, "blurred": cv2.GaussianBlur(astronaut, (0, 0), 1.5),
               "pasted": _paste(astronaut, other_face, FACE), "erased": _erase(astronaut),
               # the face moved out of the mask (a face elsewhere is not the regenerated one)
               "moved": np.roll(_erase(astronaut), 200, axis=1)}
    rows = dict(zip(outputs, dlib_identity.score_batch([task] * len(outputs), [out_of(o) for o in outputs.values()])))
    d = {k: r["distance"] for k, r in rows.items()}
    assert all(math.isnan(r["cosine"]) for r in rows.values())    # the ArcFace column stays empty
    assert d["same"] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < d["blurred"] < DLIB_THRESHOLD                     # same person
    assert d["pasted"] > DLIB_THRESHOLD and d["pasted"] > d["blurred"]   # another person, found as a face
    assert rows["pasted"]["detected"] == 1.0
    for lost in ("erased", "moved"):
        assert d[lost] == DLIB_MAX_DISTANCE and rows[lost]["detected"] == 0.0
    assert max(d["same"], d["blurred"], d["pasted"]) < d["erased"]  # a lost face ranks below every face


def test_describe_names_the_backend_model_and_its_sha256(dlib_identity):
    from harness.dlib_faces import RECOGNITION_MODEL, model_path

    rec = dlib_identity.describe()
    assert set(rec) == set(IdentityScorer.columns())
    digest = hashlib.sha256(model_path(RECOGNITION_MODEL).read_bytes()).hexdigest()
    assert rec["identity.distance"] == {"backend": "dlib", "model": RECOGNITION_MODEL, "sha256": digest}


def test_face_pose_follows_rotation_and_scores_a_lost_face_worst(face_pose, astronaut, task_of, out_of):
    import cv2

    task = task_of(astronaut, kind="face_regen", mask=MASK)
    same = face_pose.score(task, out_of(astronaut))
    assert same["nme"] == pytest.approx(0.0, abs=1e-9) and same["roll"] == pytest.approx(0.0, abs=1e-6)
    m = cv2.getRotationMatrix2D((220.0, 121.0), 10.0, 1.0)
    turned = face_pose.score(task, out_of(cv2.warpAffine(astronaut, m, (512, 512), borderMode=cv2.BORDER_REPLICATE)))
    assert turned["detected"] == 1.0 and 8.0 < turned["roll"] < 12.0     # an in-plane turn of 10 degrees
    assert 0.05 < turned["nme"] < 0.2
    blurred = face_pose.score(task, out_of(cv2.GaussianBlur(astronaut, (0, 0), 1.5)))
    assert blurred["nme"] < turned["nme"] and blurred["roll"] < turned["roll"]
    lost = face_pose.score(task, out_of(_erase(astronaut)))
    assert lost == {"nme": LOST_NME, "yaw": LOST_ANGLE, "pitch": LOST_ANGLE, "roll": LOST_ANGLE, "detected": 0.0}


def test_reference_without_a_face_gives_nan(dlib_identity, face_pose, astronaut, task_of, out_of):
    task = task_of(astronaut, kind="face_regen", mask=MASK, reference=np.full((64, 64, 3), 128, np.uint8))
    assert math.isnan(dlib_identity.score(task, out_of(astronaut))["distance"])
    assert math.isnan(face_pose.score(task, out_of(astronaut))["nme"])
