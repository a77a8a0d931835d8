"""OpenPose's 21-point hand keypoint model (controlnet_aux's ``Hand``), from local weights.

``$EDITBENCH_WEIGHTS/openpose/hand_pose_model.pth`` (the ``lllyasviel/Annotators`` file; keys without
the sub-network prefix, as controlnet_aux's ``util.transfer`` expects). :class:`HandPoseEstimator`
crops a square around a hand box (the box grown by :data:`CROP_GROW` on each side) and runs the model
on the crop (OpenCV BGR order) as controlnet_aux's ``Hand.__call__`` does — Gaussian blur 0.8, the
crop resized to ``scale * boxsize`` for each scale (OpenPose: 0.5, 1, 1.5, 2 x 368), heatmaps averaged
on a 128 x 128 grid — with ``scales`` and ``boxsize`` as options; each keypoint is the argmax of its
smoothed heatmap (sigma 3) when that exceeds 0.05, else NaN (controlnet_aux first keeps the
heatmap's strongest connected blob; the argmax lies in it whenever one blob dominates).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from harness.core.errors import WeightsNotFound
from harness.core.pixels import rgb_to_bgr

HAND_WEIGHTS = "hand_pose_model.pth"
CROP_GROW = 0.25


def hand_crop(box, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Square crop (x0, y0, x1, y1) around ``box`` grown by CROP_GROW of its long side, clipped to ``shape``."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * CROP_GROW)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = shape
    return (max(0, int(cx - side / 2)), max(0, int(cy - side / 2)), min(w, int(cx + side / 2)), min(h, int(cy + side / 2)))


def heatmap_keypoints(model, bgr: np.ndarray, *, scales=(0.5, 1.0, 1.5, 2.0), boxsize: int = 368,
                      threshold: float = 0.05) -> np.ndarray:
    """(21, 2) keypoints in ``bgr``'s pixels (NaN: not found) from controlnet_aux's ``handpose_model``."""
    import cv2
    import torch
    from scipy.ndimage import gaussian_filter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose import util
    h, w = bgr.shape[:2]
    wsize = 128
    avg = np.zeros((wsize, wsize, 22))
    img = cv2.GaussianBlur(bgr, (0, 0), 0.8)
    device = next(iter(model.parameters())).device
    for scale in scales:
        test = util.smart_resize(img, (scale * boxsize, scale * boxsize))
        padded, pad = util.padRightDownCorner(test, 8, 128)
        x = torch.from_numpy(np.ascontiguousarray(np.transpose(np.float32(padded[:, :, :, None]), (3, 2, 0, 1))
                                                  / 256 - 0.5)).to(device)
        with torch.no_grad():
            out = model(x).cpu().numpy()
        heat = util.smart_resize_k(np.transpose(np.squeeze(out, 0), (1, 2, 0)), fx=8, fy=8)
        heat = heat[:padded.shape[0] - pad[2], :padded.shape[1] - pad[3], :]
        avg += util.smart_resize(heat, (wsize, wsize)) / len(scales)
    peaks = np.full((21, 2), np.nan)
    for part in range(21):
        smooth = gaussian_filter(avg[:, :, part], sigma=3)
        if smooth.max() > threshold:
            y, x = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
            peaks[part] = (x * w / wsize, y * h / wsize)
    return peaks


class HandPoseEstimator:
    """``__call__(image RGB uint8 (H, W, 3), box) -> (21, 2)`` hand keypoints in pixels (NaN: not found)."""

    def __init__(self, weights_dir: str | Path, *, scales=(0.5, 1.0, 1.5, 2.0), boxsize: int = 368):
        path = Path(weights_dir) / HAND_WEIGHTS
        if not path.is_file():
            raise WeightsNotFound(f"OpenPose hand weights not found: expected {path}.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from controlnet_aux.open_pose.hand import Hand
        self.model = Hand(str(path)).model     # controlnet_aux's loading: util.transfer of the state dict
        self.scales, self.boxsize = tuple(scales), boxsize

    def __call__(self, image: np.ndarray, box) -> np.ndarray:
        image = np.asarray(image)
        x0, y0, x1, y1 = hand_crop(box, image.shape[:2])
        if x1 - x0 < 8 or y1 - y0 < 8:
            return np.full((21, 2), np.nan)
        crop = np.ascontiguousarray(rgb_to_bgr(image[y0:y1, x0:x1]))
        return heatmap_keypoints(self.model, crop, scales=self.scales, boxsize=self.boxsize) + [x0, y0]
