"""Identity: ArcFace routing of the tiny ONNX, alignment onto the template, cosine and missing faces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.faces import ARCFACE_TEMPLATE
from scorers.identity import IdentityScorer, align_face, alignment_matrix, cosine, find_recognition


def _astronaut(size=256):
    """scikit-image's bundled astronaut photo (the LBP cascade finds her face), resized."""
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((size, size), Image.BICUBIC))


def _similarity(points, scale, angle_deg, shift):
    a = np.deg2rad(angle_deg)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return points @ rot.T + np.asarray(shift)


def test_alignment_maps_constructed_landmarks_onto_the_template():
    lm = _similarity(ARCFACE_TEMPLATE.astype(np.float64), 2.5, 25.0, (140.0, 60.0))
    m = alignment_matrix(lm)
    mapped = lm @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(mapped, ARCFACE_TEMPLATE, atol=1e-3)
    # a bright dot at one landmark at a time: after alignment it sits on that template point
    yy, xx = np.mgrid[0:400, 0:400]
    for (x, y), (tx, ty) in zip(lm, ARCFACE_TEMPLATE):
        img = np.zeros((400, 400, 3), np.uint8)
        img[(xx - x) ** 2 + (yy - y) ** 2 <= 36] = 255
        crop = align_face(img, lm)
        assert crop.shape == (112, 112, 3)
        w = crop[..., 1].astype(float)
        cy, cx = (w * np.mgrid[0:112, 0:112][0]).sum() / w.sum(), (w * np.mgrid[0:112, 0:112][1]).sum() / w.sum()
        assert abs(cx - tx) < 0.5 and abs(cy - ty) < 0.5


def test_tiny_onnx_is_routed_to_arcface_and_same_image_gives_cosine_one(loaded_scorers, task_of, out_of):
    from insightface.model_zoo.arcface_onnx import ArcFaceONNX

    s = loaded_scorers("identity")
    assert isinstance(s.model, ArcFaceONNX) and s.model.input_size == (112, 112)
    img = _astronaut()
    task = task_of(img, kind="face_regen", mask={"box": [70, 20, 160, 110]})
    vals = s.score(task, out_of(img.copy()))
    assert vals["cosine"] == pytest.approx(1.0, abs=1e-6)
    assert vals["detected"] == 1.0 and vals["detector_scrfd"] == 0.0


def test_changed_face_lowers_cosine_and_missing_face_scores_the_floor(loaded_scorers, task_of, out_of):
    s = loaded_scorers("identity")
    img = _astronaut()
    task = task_of(img, kind="face_regen", mask={"box": [70, 20, 160, 110]})
    other = img.copy()
    other[20:110, 70:160] = other[20:110, 70:160][:, ::-1]   # mirrored face: still found, other pixels
    flat = np.full_like(img, 128)
    rows = s.score_batch([task, task], [out_of(other), out_of(flat)])
    assert rows[0]["detected"] == 1.0 and -1.0 <= rows[0]["cosine"] < 1.0 - 1e-4
    assert rows[1]["cosine"] == -1.0 and rows[1]["detected"] == 0.0 and rows[1]["detector_scrfd"] == 0.0
    assert math.isnan(rows[1]["distance"])                 # the dlib column stays empty under ArcFace
    assert rows[1]["cosine"] <= rows[0]["cosine"]          # a lost face never ranks above a real one
    # batched and single scoring agree
    assert s.score(task, out_of(other)) == pytest.approx(rows[0], nan_ok=True)


def test_reference_without_a_face_gives_nan(loaded_scorers, task_of, out_of):
    s = loaded_scorers("identity")
    img = _astronaut()
    task = task_of(img, kind="face_regen", reference=np.full((64, 64, 3), 128, np.uint8))
    vals = s.score(task, out_of(img))
    assert math.isnan(vals["cosine"]) and vals["detected"] == 1.0


def test_batched_embeddings_equal_one_by_one(loaded_scorers):
    s = loaded_scorers("identity")
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (112, 112, 3), dtype=np.uint8) for _ in range(3)]
    batch = s.embed(crops)
    for i, c in enumerate(crops):
        np.testing.assert_allclose(batch[i], s.embed([c])[0], rtol=1e-5, atol=1e-6)
    assert cosine(batch[0], batch[0]) == pytest.approx(1.0)


def test_missing_or_unroutable_weights(tmp_path, monkeypatch, tiny_onnx):
    from harness.core.errors import EditbenchError, WeightsNotFound

    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsNotFound, match=str(tmp_path / "insightface")):
        IdentityScorer(backend="arcface").check()
    assert IdentityScorer().backend() == "dlib"   # auto without ArcFace weights: the installed dlib model
    folder = tmp_path / "insightface"
    folder.mkdir()
    tiny_onnx(folder / "det_10g.onnx")          # a detector name only: no recognition model yet
    with pytest.raises(WeightsNotFound, match=str(folder / "w600k_r50.onnx")):
        IdentityScorer(backend="arcface").check()
    tiny_onnx(folder / "glint.onnx", side=96)   # 96x96 input: insightface routes it to Attribute
    assert find_recognition(folder) == folder / "glint.onnx"
    s = IdentityScorer()
    s.check()
    with pytest.raises(EditbenchError, match="not a face-recognition model"):
        s.load()
