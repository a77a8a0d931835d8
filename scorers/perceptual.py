"""LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric")
between the output and a ground-truth target inside the edited region, for tasks that have a target.

Built from the ``lpips`` package without any download: ``lpips.LPIPS(net="alex", pnet_rand=True,
spatial=True)`` builds a randomly initialised torchvision AlexNet trunk, whose ``features`` are then
loaded from ``$EDITBENCH_WEIGHTS/lpips/alexnet.pth`` (a torchvision AlexNet state dict; only the
``features.*`` keys are used). The linear heads are ``lpips/alex.pth`` when that file exists, else
the v0.1 heads bundled with the package (docs/weights.md).

On the target's grid (the output is resized to it when sizes differ, scorers/regions.py), with M
the mask (the whole image when the task has no mask):

- crop C = the bounding box of M grown by ``margin_px`` (default 16) on every side, then to at least
  64 px per side where the image allows (slid inside the image at its borders, then clipped to it);
- images to [-1, 1] RGB, LPIPS spatial map (one distance per pixel of C, each layer's map upsampled
  bilinearly to C's size, as ``lpips`` does with ``spatial=True``);
- ``distance`` = mean of the map over M within C   (lower is better; 0 = identical features)

Tasks without ``target`` get NaN, with no error.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.core.errors import WeightsNotFound
from harness.core.weights import resolve_weights
from scorers.base import Metric, Scorer
from scorers.regions import mask_bbox, target_region, torch_device
from tasks.schema import Task

BACKBONE_FILE = "alexnet.pth"
HEADS_FILE = "alex.pth"
MIN_SIDE = 64


def lpips_crop(mask: np.ndarray, *, margin_px: int) -> tuple[slice, slice]:
    """Rows and columns of the crop C (module docstring) for a non-empty bool mask (H, W)."""
    H, W = mask.shape
    x0, y0, x1, y1 = mask_bbox(mask)

    def grow(a, b, n):
        a, b = a - margin_px, b + margin_px
        short = MIN_SIDE - (b - a)
        if short > 0:
            a, b = a - short // 2, b + short - short // 2
        if a < 0:                      # slide back inside the image before clipping
            a, b = 0, b - a
        if b > n:
            a, b = a - (b - n), n
        return max(0, a), b

    (y0, y1), (x0, x1) = grow(y0, y1, H), grow(x0, x1, W)
    return slice(y0, y1), slice(x0, x1)


def backbone_state(path: Path) -> dict:
    """``features.*`` tensors of a torchvision AlexNet state dict, keyed as LPIPS' sliced trunk names them."""
    from lpips.pretrained_networks import alexnet

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # torchvision's deprecation of ``pretrained=False`` inside lpips
        trunk = alexnet(requires_grad=False, pretrained=False)
    return sliced_trunk_state(path, trunk)


def sliced_trunk_state(path: Path, trunk) -> dict:
    """``features.<i>.*`` tensors of a torchvision state dict at ``path``, keyed as the lpips sliced
    ``trunk`` (AlexNet, SqueezeNet, ...) names them."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    slices = {}   # feature index -> slice number, from LPIPS' own trunk layout
    for s in range(1, trunk.N_slices + 1):
        for idx in getattr(trunk, f"slice{s}")._modules:
            slices[int(idx)] = s
    out = {}
    for key, value in state.items():
        if key.startswith("features."):
            idx, rest = key[len("features."):].split(".", 1)
            if int(idx) in slices:
                out[f"slice{slices[int(idx)]}.{idx}.{rest}"] = value
    return out


def bundled_heads() -> Path:
    """The v0.1 AlexNet linear heads shipped inside the ``lpips`` package."""
    import lpips

    return Path(lpips.__file__).parent / "weights" / "v0.1" / HEADS_FILE


def build_lpips(folder: Path):
    """An ``lpips.LPIPS`` AlexNet model (spatial, eval mode): trunk from ``folder/alexnet.pth``, linear
    heads from ``folder/alex.pth`` or the package's bundled copy. Every tensor is checked by name."""
    import lpips
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # torchvision's deprecation of ``pretrained=False`` inside lpips
        model = lpips.LPIPS(net="alex", pretrained=False, pnet_rand=True, spatial=True, verbose=False)
    try:
        model.net.load_state_dict(backbone_state(folder / BACKBONE_FILE), strict=True)
    except RuntimeError as e:
        raise WeightsNotFound(f"{folder / BACKBONE_FILE} is not a torchvision AlexNet state dict: "
                              f"{str(e).splitlines()[0]}") from None
    heads_path = folder / HEADS_FILE if (folder / HEADS_FILE).is_file() else bundled_heads()
    heads = torch.load(heads_path, map_location="cpu", weights_only=True)
    expected = {k for k in model.state_dict() if k.startswith("lin")}
    if set(heads) != expected:
        raise WeightsNotFound(f"{heads_path} is not a set of LPIPS AlexNet linear heads: expected keys "
                              f"{sorted(expected)}, found {sorted(heads)[:6]}.")
    model.load_state_dict(heads, strict=False)
    return model.eval()


class LpipsScorer(Scorer):
    name = "lpips"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    metrics = {"distance": Metric("lower", range=(0.0, None))}
    weights = ("lpips/alexnet.pth", "lpips/alex.pth (optional)")

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        weights: str | None = None   # folder; default $EDITBENCH_WEIGHTS/lpips
        margin_px: int = 16          # context around the mask's bounding box
        device: str | None = None    # default: cuda when available, else cpu

    model = None

    def check(self) -> None:
        resolve_weights("lpips", self.options.weights, required=(BACKBONE_FILE,))

    def load(self) -> None:
        folder = resolve_weights("lpips", self.options.weights, required=(BACKBONE_FILE,))
        self.device = torch_device(self.options.device)
        self.model = build_lpips(folder).to(self.device)

    def score(self, task: Task, output) -> dict[str, float]:
        import torch

        pixels = target_region(task, output)
        if pixels is None:
            return {"distance": math.nan}
        if self.model is None:
            self.load()
        out, target, mask = pixels
        rows, cols = lpips_crop(mask, margin_px=self.options.margin_px)

        def tensor(img):
            x = torch.from_numpy(np.ascontiguousarray(img[rows, cols])).permute(2, 0, 1)[None].float()
            return (x / 127.5 - 1.0).to(self.device)

        with torch.no_grad():
            dmap = self.model(tensor(out), tensor(target))[0, 0].cpu().numpy()
        return {"distance": float(dmap[mask[rows, cols]].mean())}
