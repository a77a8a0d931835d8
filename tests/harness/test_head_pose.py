"""Landmark geometry: 300-W NME and head pose recovered from a projected 3-D face with known angles."""

from __future__ import annotations

import numpy as np
import pytest

from harness.head_pose import FACE_MODEL_3D, PNP_POINTS, angle_delta, head_pose, interocular, nme


def _projected(yaw: float, pitch: float, roll: float, shape=(480, 640)) -> np.ndarray:
    """(68, 2) landmarks whose six solvePnP points are FACE_MODEL_3D rotated (x pitch, y yaw, z roll) and
    projected 2 m in front of a pinhole camera like head_pose's; the other points are zeros."""
    import cv2

    h, w = shape
    f = float(max(h, w))
    rx, ry, rz = np.deg2rad([pitch, yaw, roll])
    Rx = np.array([[1, 0, 0], [0, np.cos(rx), -np.sin(rx)], [0, np.sin(rx), np.cos(rx)]])
    Ry = np.array([[np.cos(ry), 0, np.sin(ry)], [0, 1, 0], [-np.sin(ry), 0, np.cos(ry)]])
    Rz = np.array([[np.cos(rz), -np.sin(rz), 0], [np.sin(rz), np.cos(rz), 0], [0, 0, 1]])
    rvec, _ = cv2.Rodrigues(Rz @ Ry @ Rx)   # the order cv2.RQDecomp3x3 decomposes into
    camera = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
    pts, _ = cv2.projectPoints(FACE_MODEL_3D, rvec, np.array([0.0, 0.0, 2000.0]), camera, np.zeros(4))
    lm = np.zeros((68, 2))
    lm[list(PNP_POINTS)] = pts.reshape(-1, 2)
    return lm


@pytest.mark.parametrize("angles", [(0, 0, 0), (20, 0, 0), (0, 15, 0), (0, 0, 25), (-15, 10, -8)])
def test_head_pose_recovers_known_angles(angles):
    yaw, pitch, roll = head_pose(_projected(*angles), (480, 640))
    np.testing.assert_allclose([yaw, pitch, roll], angles, atol=0.5)


def test_nme_is_mean_distance_over_outer_eye_corners():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0, 200, (68, 2))
    ref[36], ref[45] = (50, 80), (150, 80)            # inter-ocular distance 100 px
    assert interocular(ref) == pytest.approx(100.0)
    assert nme(ref, ref + [3.0, 4.0]) == pytest.approx(0.05)   # every point 5 px off
    with pytest.raises(ValueError, match="68, 2"):
        nme(ref[:5], ref[:5])


def test_angle_delta_wraps():
    assert angle_delta(170, -170) == pytest.approx(20)
    assert angle_delta(-5, 5) == pytest.approx(10)
