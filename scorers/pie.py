"""PIE-Bench's metric protocol (PnPInversion ``evaluation/evaluate.py`` + ``matrics_calculator.py``), line by line.

Inputs as PIE reads them: ``src`` = the task's source image, ``tgt`` = the output (the ``precomputed``
pipeline has already cropped a non-square output to its bottom-right 512 x 512), both RGB uint8 of the
same size (PIE asserts it; here a size mismatch is NaN for every metric), ``M`` = the task's mask (PIE's
decoded mask, border forced to 1, 1 = edit region) repeated over 3 channels.

Unedited part (``evaluate.py``: ``calculate_*(src, tgt, 1 - M, 1 - M)``; NaN when ``(1 - M).sum() == 0``):
``a = src / 255 * (1 - M)``, ``b = tgt / 255 * (1 - M)`` in float32, then over the **whole** image (the
masked-out pixels count as zeros):

- ``psnr_unedited`` = torchmetrics ``PeakSignalNoiseRatio(data_range=1.0)``: ``10 log10(1 / mean((a-b)^2))``
  over all 3 H W values; identical pixels give inf there and ``PSNR_CEILING`` = 100 dB here (the one
  departure, so that means stay finite); (PIE Table 1 column "PSNR")
- ``mse_unedited``  = torchmetrics ``MeanSquaredError``: ``mean((a-b)^2)`` (the table reports it x 10^4);
- ``ssim_unedited`` = torchmetrics ``StructuralSimilarityIndexMeasure(data_range=1.0)``: Gaussian window
  11, sigma 1.5, K = (0.01, 0.03), population (co)variances, the 5-pixel border of the SSIM map dropped,
  mean over channels and pixels (x 10^2 in the table). Equal to scikit-image ``structural_similarity(
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=2)``;
- ``lpips_unedited`` = torchmetrics ``LearnedPerceptualImagePatchSimilarity(net_type="squeeze")`` of
  ``a * 2 - 1`` and ``b * 2 - 1`` (x 10^3 in the table).

Whole image:

- ``structure_distance`` (``calculate_structure_distance(src, tgt)``, Splice's ``LossG.
  calculate_global_ssim_loss``; x 10^3 in the table): both images as float32 **0..255** (PIE does not
  divide by 255 here), ``Resize(224, max_size=480)`` (bilinear, without antialiasing, as torchvision's
  tensor resize did then), ImageNet ``Normalize``, DINO ViT-B/8; the keys of its last block (layer 11,
  all heads concatenated, CLS included) -> cosine self-similarity matrix (T x T) for each image ->
  ``mse_loss`` between the two matrices;
- ``clip_whole`` (``clip_similarity_target_image``) = torchmetrics ``CLIPScore`` ViT-L/14 of ``tgt`` and
  the target prompt with ``[`` ``]`` stripped (``task.prompt``, stripped by the importer): ``max(100 cos, 0)``;
- ``clip_edited`` (``clip_similarity_target_image_edit_part``) = the same for ``uint8(tgt * M)`` (the
  edited part, the rest black); NaN when ``M.sum() == 0``.

Option ``models`` (default all of ``lpips``, ``dino``, ``clip``) names the models loaded; the metrics of a
model left out are NaN (a run without weights: ``scorer_options: {pie: {models: []}}``). Weights
(docs/weights.md): ``$EDITBENCH_WEIGHTS/lpips/squeezenet1_1.pth``, ``$EDITBENCH_WEIGHTS/dino-vitb8/``
(``facebook/dino-vitb8``), ``$EDITBENCH_WEIGHTS/clip-vit-large-patch14/`` (``openai/clip-vit-large-patch14``),
or the ``*_weights`` options. Version 1 of every column.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from scorers.base import Metric, Scorer
from scorers.protocol_models import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LPIPS_SQUEEZE,
    ProtocolModels,
    clip_slot,
    dino_slot,
    lpips_distance,
)
from scorers.regions import source_image, task_mask

PSNR_CEILING = 100.0
SSIM_SIGMA, SSIM_RADIUS = 1.5, 5          # torchmetrics: kernel_size 11, sigma 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
DINO_SIZE, DINO_MAX = 224, 480            # Splice cfg: dino_global_patch_size 224, Resize(..., max_size=480)
Model = Literal["lpips", "dino", "clip"]


def unedited(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image / 255 * (1 - M)`` as float32 (H, W, 3): the unedited part, the edit region zeroed."""
    keep = (~np.asarray(mask, bool)).astype(np.float32)[..., None]
    return np.asarray(image, np.float32) / 255 * keep


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """torchmetrics MeanSquaredError: mean of (a - b)^2 over every value."""
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr(a: np.ndarray, b: np.ndarray, *, data_range: float = 1.0) -> float:
    """torchmetrics PeakSignalNoiseRatio: 10 log10(data_range^2 / mse), capped at PSNR_CEILING."""
    m = mse(a, b)
    return PSNR_CEILING if m == 0 else min(10 * math.log10(data_range ** 2 / m), PSNR_CEILING)


def _gauss(x: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter (11 taps, sigma 1.5, normalised) over axes 0 and 1, 'valid' part only
    (the border of SSIM_RADIUS pixels that a padded filter would touch is cropped, as torchmetrics does)."""
    from scipy.ndimage import correlate1d

    r = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=np.float64)
    k = np.exp(-(r ** 2) / (2 * SSIM_SIGMA ** 2))
    k /= k.sum()
    y = correlate1d(correlate1d(x, k, axis=0, mode="reflect"), k, axis=1, mode="reflect")
    return y[SSIM_RADIUS:-SSIM_RADIUS, SSIM_RADIUS:-SSIM_RADIUS]


def ssim(a: np.ndarray, b: np.ndarray, *, data_range: float = 1.0) -> float:
    """torchmetrics StructuralSimilarityIndexMeasure of (H, W, C) images (module docstring)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_a, mu_b = _gauss(a), _gauss(b)
    va = _gauss(a * a) - mu_a ** 2
    vb = _gauss(b * b) - mu_b ** 2
    cov = _gauss(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (va + vb + c2))
    return float(s.mean())


def dino_input(image: np.ndarray):
    """PIE's structure-distance input: float 0..255, Resize(224, max_size=480) bilinear, ImageNet Normalize."""
    import torch
    import torchvision.transforms.functional as TF


    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)
    x = TF.resize(x, [DINO_SIZE], max_size=DINO_MAX, antialias=False)
    return TF.normalize(x, IMAGENET_MEAN, IMAGENET_STD)


def weight_free(src: np.ndarray, tgt: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """psnr / mse / ssim of the unedited part; NaN when the mask covers everything."""
    if mask.all():
        return {"psnr_unedited": math.nan, "mse_unedited": math.nan, "ssim_unedited": math.nan}
    a, b = unedited(src, mask), unedited(tgt, mask)
    return {"psnr_unedited": psnr(a, b), "mse_unedited": mse(a, b), "ssim_unedited": ssim(a, b)}


class PieScorer(ProtocolModels, Scorer):
    name = "pie"
    kinds = frozenset({"inpaint", "instruct", "sdedit"})
    metrics = {
        "psnr_unedited": Metric("higher", range=(0.0, PSNR_CEILING), unit="dB"),
        "lpips_unedited": Metric("lower", range=(0.0, None)),
        "mse_unedited": Metric("lower", range=(0.0, 1.0)),
        "ssim_unedited": Metric("higher", range=(-1.0, 1.0)),
        "structure_distance": Metric("lower", range=(0.0, 4.0)),
        "clip_whole": Metric("higher", range=(0.0, 100.0)),
        "clip_edited": Metric("higher", range=(0.0, 100.0)),
    }
    weights = ("lpips/squeezenet1_1.pth", "dino-vitb8/ (save_pretrained)", "clip-vit-large-patch14/ (save_pretrained)")

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        models: list[Model] = ["lpips", "dino", "clip"]   # models loaded; the others' metrics are NaN
        lpips_weights: str | None = None   # default $EDITBENCH_WEIGHTS/lpips
        dino_weights: str | None = None    # default $EDITBENCH_WEIGHTS/dino-vitb8
        clip_weights: str | None = None    # default $EDITBENCH_WEIGHTS/clip-vit-large-patch14
        device: str | None = None

    lpips = dino = clip = None
    slots = (LPIPS_SQUEEZE, dino_slot("dino-vitb8"), clip_slot("clip-vit-large-patch14"))

    def score(self, task, output) -> dict[str, float]:
        import torch.nn.functional as F


        if self.options.models and self.lpips is None and self.dino is None and self.clip is None:
            self.load()
        row = {m: math.nan for m in self.metrics}
        src, tgt = source_image(task), np.asarray(output.image)
        if tgt.shape != src.shape:
            return row       # PIE asserts equal shapes; a mismatch is not scored
        mask = task_mask(task, src.shape[:2])
        mask = np.zeros(src.shape[:2], bool) if mask is None else mask
        row.update(weight_free(src, tgt, mask))
        if self.lpips is not None and not mask.all():
            row["lpips_unedited"] = lpips_distance(self.lpips, unedited(src, mask), unedited(tgt, mask),
                                                   device=self.device)
        if self.dino is not None:
            row["structure_distance"] = float(F.mse_loss(self.dino.keys_self_similarity(dino_input(tgt)),
                                                         self.dino.keys_self_similarity(dino_input(src))))
        if self.clip is not None and task.prompt:
            edited = (tgt * mask[..., None]).astype(np.uint8)
            whole, part = self.clip.score([tgt, edited], [task.prompt, task.prompt])
            row["clip_whole"] = whole
            row["clip_edited"] = part if mask.any() else math.nan
        return row
