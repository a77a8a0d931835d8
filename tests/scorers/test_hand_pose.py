"""Hand keypoint adherence through the real loading path, with random OpenPose hand weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.core.errors import WeightsNotFound
from harness.hand_pose import HandPoseEstimator, hand_crop
from scorers.hand_pose import PCK_ALPHA, HandPoseScorer, hand_pck


def test_pck_counts_keypoints_within_a_fifth_of_the_hand_box():
    ref = np.array([[10.0, 10.0]] * 21)
    ref[20] = np.nan                                # not found in the source: left out
    pred = ref.copy()
    box = (0, 0, 50, 100)                            # threshold 0.2 x 100 = 20 px
    pred[:10] += [0, PCK_ALPHA * 100 - 1]            # within
    pred[10:15] += [0, PCK_ALPHA * 100 + 1]          # outside
    pred[15:18] = np.nan                             # missing in the output: misses
    assert hand_pck(ref, pred, box) == pytest.approx(12 / 20)
    assert math.isnan(hand_pck(np.full((21, 2), np.nan), pred, box))


def test_random_weights_load_and_the_same_image_matches_itself(openpose_weights, task_of, out_of):
    s = HandPoseScorer(weights=str(openpose_weights), scales=[1.0], boxsize=64)   # small: seconds on CPU
    s.check()
    s.load()
    assert isinstance(s.estimator, HandPoseEstimator)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
    kp = s.estimator(img, (24, 24, 72, 72))
    assert kp.shape == (21, 2)
    task = task_of(img, kind="inpaint", mask={"box": [24, 24, 72, 72]}, meta={"hand_box": [24, 24, 72, 72]})
    vals = s.score(task, out_of(img))
    if np.isfinite(kp).all(1).any():                 # random weights may find nothing; if they find, it matches
        assert vals["pck"] == 1.0 and vals["detected"] == 1.0
    else:
        assert math.isnan(vals["pck"])
    no_box = task_of(img, kind="inpaint", mask={"box": [24, 24, 72, 72]})
    assert math.isnan(s.score(no_box, out_of(img))["pck"])


def test_missing_hand_weights_name_the_file(tmp_path):
    (tmp_path / "openpose").mkdir()
    with pytest.raises(WeightsNotFound, match="hand_pose_model.pth"):
        HandPoseScorer(weights=str(tmp_path / "openpose")).check()


def test_crop_is_a_clipped_square_around_the_box():
    assert hand_crop((40, 40, 60, 80), (100, 100)) == (20, 30, 80, 90)   # side 1.5 x 40 about (50, 60)
    assert hand_crop((0, 0, 20, 20), (100, 100))[:2] == (0, 0)
