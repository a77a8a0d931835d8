"""Text-image alignment with open_clip: CLIPScore of the output against the task's prompt.

Weights ($EDITBENCH_WEIGHTS/open_clip, or the ``weights`` option), see docs/weights.md:

    config.json          {"model_name": "ViT-B-32", "checkpoint": "open_clip_pytorch_model.bin"}
    <checkpoint>         open_clip state dict (.bin/.pt/.safetensors), loaded by open_clip's load_checkpoint
    <model_name>.json    optional: an open_clip model config for an architecture open_clip does not
                         bundle, registered with ``open_clip.add_model_config`` before the model is built

Metrics (higher is better), following torchmetrics' ``CLIPScore``
(torchmetrics.functional.multimodal.clip_score: ``100 * cos``, clamped at 0):

- ``score``        = max(100 * cos(E_img(output), E_txt(prompt)), 0), cosine of the L2-normalised
                     embeddings, range [0, 100];
- ``score_masked`` = the same for the output cropped to the bounding box of the task mask (mask
                     scaled to the output grid).

Images go through the model's own evaluation transform (open_clip ``preprocess_val``: resize the
shortest side to the model's input size, bicubic, centre crop, CLIP mean/std), so a non-square
image is centre-cropped. The text is ``task.prompt`` (tokenised by the model's tokenizer,
truncated to its context length); the instruction of instruct tasks is not a caption and is not
used. NaN when the prompt is empty; ``score_masked`` NaN when the task has no mask or it is empty.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.core.errors import EditbenchError, WeightsNotFound
from harness.core.weights import resolve_weights
from scorers.base import Metric, Scorer
from scorers.regions import mask_bbox, source_shape, task_mask, torch_device
from tasks.schema import Task

CONFIG_FILE = "config.json"


def clip_score(image_emb, text_emb):
    """torchmetrics CLIPScore per pair: max(100 * cos(image, text), 0); inputs (N, D) tensors."""
    import torch

    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    return torch.clamp(100.0 * (img * txt).sum(-1), min=0.0)


def read_clip_config(folder: Path, *, model_name: str | None = None, checkpoint: str | None = None) -> tuple[str, Path]:
    """(open_clip model name, checkpoint path) from ``folder/config.json`` and explicit overrides."""
    cfg: dict = {}
    cfg_path = folder / CONFIG_FILE
    if not (model_name and checkpoint):
        if not cfg_path.is_file():
            raise WeightsNotFound(f"weights for open_clip are incomplete: expected file {cfg_path} naming "
                                  '{"model_name": ..., "checkpoint": ...}.')
        try:
            cfg = json.loads(cfg_path.read_text())
        except json.JSONDecodeError as e:
            raise EditbenchError(f"{cfg_path} is not valid JSON: {e}.") from None
    name = model_name or cfg.get("model_name")
    ckpt = checkpoint or cfg.get("checkpoint")
    if not name or not ckpt:
        raise EditbenchError(f"{cfg_path} must name both model_name and checkpoint.")
    ckpt_path = Path(ckpt).expanduser()
    ckpt_path = ckpt_path if ckpt_path.is_absolute() else folder / ckpt_path
    if not ckpt_path.is_file():
        raise WeightsNotFound(f"open_clip checkpoint not found: expected {ckpt_path}.")
    return name, ckpt_path


class ClipScorer(Scorer):
    name = "clip"
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    metrics = {"score": Metric("higher", range=(0.0, 100.0)), "score_masked": Metric("higher", range=(0.0, 100.0))}
    weights = ("open_clip/config.json", "open_clip/<checkpoint named there>")

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        weights: str | None = None     # folder; default $EDITBENCH_WEIGHTS/open_clip
        model_name: str | None = None  # overrides config.json's model_name
        checkpoint: str | None = None  # overrides config.json's checkpoint (absolute or relative to the folder)
        device: str | None = None      # default: cuda when available, else cpu

    model = None

    def _resolve(self) -> tuple[Path, str, Path]:
        folder = resolve_weights("open_clip", self.options.weights)
        name, ckpt = read_clip_config(folder, model_name=self.options.model_name, checkpoint=self.options.checkpoint)
        return folder, name, ckpt

    def check(self) -> None:
        self._resolve()

    def load(self) -> None:
        import open_clip

        folder, name, ckpt = self._resolve()
        extra = folder / f"{name}.json"
        if extra.is_file():
            open_clip.add_model_config(extra)
        if name not in open_clip.list_models():
            raise EditbenchError(f"open_clip has no model config {name!r}; put one at {extra} or use one of "
                                 "open_clip.list_models().")
        self.device = torch_device(self.options.device)
        model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=str(ckpt), device=self.device)
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(name)

    def score(self, task: Task, output) -> dict[str, float]:
        return self.score_batch([task], [output])[0]

    def score_batch(self, tasks, outputs) -> list[dict[str, float]]:
        """Encode every image, masked crop and prompt of the batch in one forward pass each."""
        import torch
        from PIL import Image

        if self.model is None:
            self.load()
        images, texts, index = [], [], []
        for task, output in zip(tasks, outputs):
            out = np.asarray(output.image)
            if not task.prompt:
                index.append((None, None, None))
                continue
            t = len(texts)
            texts.append(task.prompt)
            i = len(images)
            images.append(Image.fromarray(out))
            j = None
            box = self._mask_box(task, out.shape[:2])
            if box is not None:
                j = len(images)
                images.append(Image.fromarray(out[box[1]:box[3], box[0]:box[2]]))
            index.append((t, i, j))
        rows = [{"score": math.nan, "score_masked": math.nan} for _ in index]
        if not texts:
            return rows
        with torch.no_grad():
            pix = torch.stack([self.preprocess(im) for im in images]).to(self.device)
            img_emb = self.model.encode_image(pix).float()
            txt_emb = self.model.encode_text(self.tokenizer(texts).to(self.device)).float()
        for row, (t, i, j) in zip(rows, index):
            if t is None:
                continue
            row["score"] = float(clip_score(img_emb[i:i + 1], txt_emb[t:t + 1])[0])
            if j is not None:
                row["score_masked"] = float(clip_score(img_emb[j:j + 1], txt_emb[t:t + 1])[0])
        return rows

    @staticmethod
    def _mask_box(task: Task, out_shape: tuple[int, int]):
        """Bounding box of the task mask scaled to the output grid (x0, y0, x1, y1), or None."""
        mask = task_mask(task, source_shape(task)) if task.mask is not None else None
        box = mask_bbox(mask) if mask is not None else None
        if box is None:
            return None
        sy, sx = out_shape[0] / mask.shape[0], out_shape[1] / mask.shape[1]
        x0, y0 = math.floor(box[0] * sx), math.floor(box[1] * sy)
        x1, y1 = max(x0 + 1, math.ceil(box[2] * sx)), max(y0 + 1, math.ceil(box[3] * sy))
        return x0, y0, min(x1, out_shape[1]), min(y1, out_shape[0])
