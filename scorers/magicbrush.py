"""MagicBrush's metric protocol (MagicBrush ``evaluation/image_eval.py``): the output against the task's
ground-truth ``target``.

- ``l1`` = ``mean |gen - gt|`` of ``ToTensor`` images (RGB in [0, 1]) after the output is resized to the
  target's size with PIL's default filter (``gen_img.resize(gt_img.size)``);
- ``clip_i`` = cosine of the CLIP ViT-B/32 image embeddings of output and target;
- ``clip_t`` = cosine of the output's CLIP ViT-B/32 image embedding and the embedding of ``task.prompt``
  (the caption; MagicBrush's paper uses per-turn local captions, its README global ones; the
  Hugging Face parquet carries neither, so ``clip_t`` is NaN for tasks without a prompt);
- ``dino`` = cosine of the DINO ViT-S/16 CLS embeddings of output and target, each ``Resize(256,
  bicubic)``, ``CenterCrop(224)``, ``ToTensor``, ImageNet ``Normalize``.

Cosines, not x 100 and not clamped, as MagicBrush reports them. ``models`` (default ``clip``, ``dino``)
as in scorers/pie.py; weights ``$EDITBENCH_WEIGHTS/clip-vit-base-patch32/`` (``openai/clip-vit-base-patch32``)
and ``$EDITBENCH_WEIGHTS/dino-vits16/`` (``facebook/dino-vits16``). Tasks without a target are NaN.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.core.imageio import load_image
from scorers.base import Metric, Scorer
from scorers.protocol_models import ProtocolModels, clip_slot, dino_slot, imagenet_tensor


def l1(gen: np.ndarray, gt: np.ndarray) -> float:
    """MagicBrush L1: the output resized to the target's size (PIL default filter), mean |a - b| in [0, 1]."""
    from PIL import Image

    if gen.shape[:2] != gt.shape[:2]:
        gen = np.asarray(Image.fromarray(gen).resize((gt.shape[1], gt.shape[0])))
    return float(np.mean(np.abs(gen.astype(np.float64) - gt.astype(np.float64)) / 255))


def dino_input(image: np.ndarray):
    """Resize(256, bicubic) -> CenterCrop(224) -> ToTensor -> ImageNet Normalize, on PIL."""
    from PIL import Image


    im = Image.fromarray(image)
    w, h = im.size
    s = 256 / min(w, h)
    im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BICUBIC)
    w, h = im.size
    left, top = int(round((w - 224) / 2.0)), int(round((h - 224) / 2.0))
    return imagenet_tensor(np.asarray(im.crop((left, top, left + 224, top + 224))), scale=255.0)


class MagicBrushScorer(ProtocolModels, Scorer):
    name = "magicbrush"
    kinds = frozenset({"inpaint", "instruct", "sdedit"})
    metrics = {
        "l1": Metric("lower", range=(0.0, 1.0)),
        "clip_i": Metric("higher", range=(-1.0, 1.0)),
        "clip_t": Metric("higher", range=(-1.0, 1.0)),
        "dino": Metric("higher", range=(-1.0, 1.0)),
    }
    weights = ("clip-vit-base-patch32/ (save_pretrained)", "dino-vits16/ (save_pretrained)")

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        models: list[Literal["clip", "dino"]] = ["clip", "dino"]
        clip_weights: str | None = None    # default $EDITBENCH_WEIGHTS/clip-vit-base-patch32
        dino_weights: str | None = None    # default $EDITBENCH_WEIGHTS/dino-vits16
        device: str | None = None

    clip = dino = None
    slots = (clip_slot("clip-vit-base-patch32"), dino_slot("dino-vits16"))

    def score(self, task, output) -> dict[str, float]:
        import torch.nn.functional as F

        if self.options.models and self.clip is None and self.dino is None:
            self.load()
        row = {m: math.nan for m in self.metrics}
        if not task.target:
            return row
        gen, gt = np.asarray(output.image), load_image(task.target)
        row["l1"] = l1(gen, gt)
        if self.clip is not None:
            f = self.clip.image_features([gen, gt])
            row["clip_i"] = float((f[0] * f[1]).sum())
            if task.prompt:
                row["clip_t"] = float((f[0] * self.clip.text_features([task.prompt])[0]).sum())
        if self.dino is not None:
            row["dino"] = float(F.cosine_similarity(self.dino.cls(dino_input(gen)), self.dino.cls(dino_input(gt)), dim=0))
        return row
