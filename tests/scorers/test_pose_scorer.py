"""Pose: OKS/PCK against the pycocotools definition, missing-value rules, the OpenPose loading path."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.pose import BodyPoseEstimator, Person, people_from_openpose, render_pose
from scorers.pose import COCO_FROM_OPENPOSE, COCO_SIGMAS, PoseScorer, oks, pck, pose_metrics, to_coco17

# A standing person, OpenPose-18 order, pixels in a 200x120 image.
PERSON = np.array([
    [60, 30], [60, 50], [45, 50], [40, 75], [38, 100], [75, 50], [80, 75], [82, 100],
    [50, 105], [50, 140], [50, 175], [70, 105], [70, 140], [70, 175], [56, 26], [64, 26], [52, 28], [68, 28],
], dtype=float)


def _kp(xy, score=0.9):
    return np.column_stack([xy, np.full(len(xy), score)])


def _pycocotools_oks(ref17, pred17, area, visible):
    from pycocotools.cocoeval import COCOeval

    gt_kps = np.column_stack([ref17[:, :2], np.where(visible, 2, 0)]).ravel().tolist()
    x0, y0 = ref17[visible, 0].min(), ref17[visible, 1].min()
    w, h = ref17[visible, 0].max() - x0, ref17[visible, 1].max() - y0
    ev = COCOeval(iouType="keypoints")
    ev._gts = {(1, 1): [{"keypoints": gt_kps, "bbox": [x0, y0, w, h], "area": area}]}
    ev._dts = {(1, 1): [{"keypoints": np.column_stack([pred17[:, :2], np.ones(17)]).ravel().tolist(), "score": 1.0}]}
    ev.params.imgIds, ev.params.catIds = [1], [1]
    return float(np.asarray(ev.computeOks(1, 1))[0, 0])


def test_mapping_and_sigmas():
    assert sorted(COCO_FROM_OPENPOSE.tolist()) == [i for i in range(18) if i != 1]   # all but the neck
    assert COCO_FROM_OPENPOSE[1] == 15 and COCO_FROM_OPENPOSE[2] == 14               # COCO l_eye, r_eye
    assert COCO_FROM_OPENPOSE[9] == 7 and COCO_FROM_OPENPOSE[16] == 10               # COCO l_wrist, r_ankle
    assert COCO_SIGMAS.shape == (17,)


def test_oks_identical_is_one_and_decreases_with_displacement():
    ref = to_coco17(_kp(PERSON))
    assert oks(ref, ref) == 1.0
    values = [oks(ref, ref + [d, 0, 0]) for d in (0.5, 1, 2, 4, 8, 16, 32)]
    assert all(b < a for a, b in zip([1.0, *values], values)), values
    assert values[-1] < 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oks_matches_pycocotools(seed):
    rng = np.random.default_rng(seed)
    ref = to_coco17(_kp(PERSON))
    visible = rng.random(17) > 0.25
    ref_missing = ref.copy()
    ref_missing[~visible, :2] = np.nan
    pred = ref + np.column_stack([rng.normal(0, 6, (17, 2)), np.zeros(17)])
    x0, y0 = ref[visible, 0].min(), ref[visible, 1].min()
    area = (ref[visible, 0].max() - x0) * (ref[visible, 1].max() - y0)
    ours = oks(ref_missing, pred)
    assert ours == pytest.approx(_pycocotools_oks(ref, pred, area, visible), rel=1e-9)
    assert 0 < ours < 1


def test_pck_threshold_and_missing_rules():
    ref = to_coco17(_kp(PERSON))
    side = max(np.ptp(ref[:, 0]), np.ptp(ref[:, 1]))          # 150 px tall -> threshold 15 px
    assert pck(ref, ref + [0.99 * 0.1 * side, 0, 0]) == 1.0
    assert pck(ref, ref + [1.01 * 0.1 * side, 0, 0]) == 0.0
    pred = ref.copy()
    pred[:5, :2] = np.nan                                      # 5 of 17 output keypoints missing
    assert pck(ref, pred) == pytest.approx(12 / 17)
    assert oks(ref, pred) == pytest.approx(12 / 17)            # missing output keypoints contribute 0
    ref2 = ref.copy()
    ref2[:5, :2] = np.nan                                      # missing reference keypoints are left out
    assert pck(ref2, ref) == 1.0 and oks(ref2, ref) == 1.0


def test_pose_metrics_missing_person_rules():
    ref = _kp(PERSON)
    assert pose_metrics(ref, []) == {"oks": 0.0, "pck": 0.0, "detected": 0.0}
    none = pose_metrics(None, [ref])
    assert math.isnan(none["oks"]) and math.isnan(none["pck"]) and none["detected"] == 1.0
    far = ref + [100, 0, 0]
    got = pose_metrics(ref, [far, ref + [1, 0, 0]])            # the best-matching output person counts
    assert got["pck"] == 1.0 and got["oks"] > 0.9


def test_people_from_openpose_keeps_pixels_and_scores():
    candidate = np.array([[10.0, 20.0, 0.7, 0], [30.0, 40.0, 0.5, 1], [50, 60, 0.9, 2]])
    subset = -np.ones((1, 20))
    subset[0, 0], subset[0, 1], subset[0, 17] = 0, 1, 2
    subset[0, 18], subset[0, 19] = 3.1, 3
    (p,) = people_from_openpose(candidate, subset)
    assert p.keypoints.shape == (18, 3)
    np.testing.assert_array_equal(p.keypoints[[0, 1, 17]], candidate[:, :3])
    assert np.isnan(p.keypoints[2, :2]).all() and p.keypoints[2, 2] == 0
    assert p.visible.sum() == 3 and p.score == pytest.approx(3.1)


def test_render_pose_draws_limbs_where_the_keypoints_are():
    kp = np.full((18, 3), np.nan)
    kp[:, 2] = 0
    kp[1] = [50, 20, 1]     # neck
    kp[2] = [20, 20, 1]     # right shoulder
    img = render_pose((60, 80), [Person(keypoints=kp)])
    assert img.shape == (60, 80, 3) and img.dtype == np.uint8
    assert img[20, 35].any() and img[20, 20].any() and img[20, 50].any()   # limb and both joints
    assert not img[50, 70].any() and not img[5, 5].any()
    assert not render_pose((60, 80), []).any()


def test_estimator_loads_random_weights_through_controlnet_aux(loaded_scorers):
    est = loaded_scorers("pose").estimator
    assert isinstance(est, BodyPoseEstimator)
    people = est(np.full((48, 64, 3), 127, np.uint8))
    assert isinstance(people, list)
    for p in people:
        assert p.keypoints.shape == (18, 3)
    with pytest.raises(ValueError, match="RGB uint8"):
        est(np.zeros((8, 8), np.uint8))


def test_scorer_uses_control_keypoints_and_scales_output_pose(task_of, out_of):
    class Fake:
        def __init__(self, people):
            self.people = people

        def __call__(self, image):
            return [Person(keypoints=k.copy()) for k in self.people]

    s = PoseScorer()
    task = task_of(np.zeros((200, 120, 3), np.uint8), control={"keypoints": _kp(PERSON).tolist()})
    s.estimator = Fake([_kp(PERSON * 2)])                      # output is 2x the source size
    assert s.score(task, out_of(np.zeros((400, 240, 3), np.uint8))) == {"oks": 1.0, "pck": 1.0, "detected": 1.0}
    s.estimator = Fake([])
    assert s.score(task, out_of(np.zeros((200, 120, 3), np.uint8))) == {"oks": 0.0, "pck": 0.0, "detected": 0.0}


def test_missing_weights_name_the_expected_path(tmp_path, monkeypatch):
    from harness.core.errors import WeightsNotFound

    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsNotFound, match=str(tmp_path / "openpose")):
        PoseScorer().check()
    (tmp_path / "openpose").mkdir()
    with pytest.raises(WeightsNotFound, match="body_pose_model.pth"):
        PoseScorer().check()
    with pytest.raises(WeightsNotFound, match=str(tmp_path / "elsewhere")):
        PoseScorer(weights=str(tmp_path / "elsewhere")).check()


def test_source_pose_is_estimated_once_per_source_file(task_of, out_of):
    calls = []

    def fake(image):
        calls.append(image.shape)
        return [Person(keypoints=_kp(PERSON))] if image.shape[0] == 200 else []

    s = PoseScorer()
    s.estimator = fake
    task = task_of(np.zeros((200, 120, 3), np.uint8))
    for _ in range(3):
        assert s.score(task, out_of(np.zeros((100, 60, 3), np.uint8)))["detected"] == 0.0
    assert calls.count((200, 120, 3)) == 1 and calls.count((100, 60, 3)) == 3
