"""Segment Anything (SAM, Kirillov et al. 2023) and SAM 2 (Ravi et al. 2024) as mask generators.

One adapter over transformers' ``SamModel``/``Sam2Model`` and their processors; the conversions (prompt
nesting, low-resolution logits -> a bool mask of the image's size, the multimask choice) live here.

Weights: a ``save_pretrained`` folder holding ``config.json``, the model's safetensors and the
processor's config (e.g. a copy of ``facebook/sam-vit-base``), found at the recipe's ``weights`` path
or ``$EDITBENCH_WEIGHTS/<name>``. ``weights: random`` builds the published architecture with random init
(SAM ViT-B / ViT-H at 1024 px, SAM 2 with transformers' default Hiera-T configuration): latency only.
Runs on CUDA when one is visible, else on CPU, in float32.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.core.errors import EditbenchError, WeightsNotFound
from harness.core.pixels import resolve_device
from harness.core.weights import resolve_weights

# Published ViT-H image encoder (facebook/sam-vit-huge config.json); ViT-B is SamVisionConfig's default.
SAM_VIT_H_VISION = dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, mlp_dim=5120,
                        global_attn_indexes=[7, 15, 23, 31])


def choose(masks: np.ndarray, scores: np.ndarray, rule: str) -> np.ndarray:
    """One of SAM's candidate masks. ``masks``: bool (K, H, W); ``scores``: (K,) predicted IoU.

    ``best``: highest predicted IoU; ``largest`` / ``smallest``: most / fewest pixels (ties: lower index).
    """
    if rule == "best":
        i = int(np.argmax(scores))
    else:
        areas = masks.reshape(len(masks), -1).sum(axis=1)
        i = int(np.argmax(areas) if rule == "largest" else np.argmin(areas))
    return masks[i]


class SamGenerator:
    """A SAM-family model with its processor, loaded once per process."""

    name: ClassVar[str]
    family: ClassVar[str] = "sam"        # "sam" (SamModel) or "sam2" (Sam2Model)

    def __init__(self, *, weights: str | None = None, device: str = "auto"):
        self.weights = weights
        self.device = device
        self.model = None
        self.processor = None

    @property
    def random_weights(self) -> bool:
        return self.weights == "random"

    def source(self) -> Path | None:
        """The weights folder (None for random); raises WeightsNotFound naming the expected path."""
        if self.random_weights:
            return None
        try:
            path = resolve_weights(self.name, self.weights, required=("config.json",))
        except WeightsNotFound as e:
            if self.weights:
                raise
            raise WeightsNotFound(str(e).replace("give a weights path in the run spec",
                                                 "give the mask recipe's weights: a folder or random")) from None
        if not path.is_dir():
            raise WeightsNotFound(f"weights for mask generator {self.name} must be a save_pretrained folder, "
                                  f"not the file {path}.")
        return path

    def check(self) -> None:
        self.source()

    def _classes(self):
        import transformers as tf

        if self.family == "sam2":
            return tf.Sam2Model, tf.Sam2Processor, tf.Sam2Config
        return tf.SamModel, tf.SamProcessor, tf.SamConfig

    def random_config(self):
        return self._classes()[2]()

    def load(self) -> "SamGenerator":
        import torch

        model_cls, proc_cls, _ = self._classes()
        src = self.source()
        if src is None:
            torch.manual_seed(0)
            model = model_cls(self.random_config())
            processor = proc_cls(image_processor=self._default_image_processor())
        else:
            model = model_cls.from_pretrained(src, local_files_only=True)
            processor = proc_cls.from_pretrained(src, local_files_only=True)
        if self.device == "auto":
            self.device = resolve_device(None)
        self.model = model.to(self.device).eval()
        self.processor = processor
        return self

    def _default_image_processor(self):
        import transformers as tf

        return tf.Sam2ImageProcessor() if self.family == "sam2" else tf.SamImageProcessor()

    def segment(self, image: np.ndarray, *, box=None, points=(), labels=(), rule: str = "best") -> np.ndarray:
        """A bool (H, W) mask of the object the prompt points at. ``image``: RGB uint8 (H, W, 3); ``box``:
        (x0, y0, x1, y1) and/or ``points``: [(x, y)] with ``labels`` (1 object, 0 background), in pixels."""
        import torch

        if self.model is None:
            self.load()
        kw: dict[str, Any] = {}
        if box is not None:
            kw["input_boxes"] = [[[float(v) for v in box]]]
        if points:
            kw["input_points"] = [[[[float(x), float(y)] for x, y in points]]]
            kw["input_labels"] = [[[int(v) for v in labels]]]
        inputs = self.processor(images=np.array(image), return_tensors="pt", **kw)   # a writable copy for torch
        sizes = inputs["original_sizes"]
        reshaped = inputs.get("reshaped_input_sizes")
        with torch.no_grad():
            out = self.model(**{k: v.to(self.device) for k, v in inputs.items()
                                if k not in ("original_sizes", "reshaped_input_sizes")}, multimask_output=True)
        logits = out.pred_masks.float().cpu()
        if self.family == "sam2":
            masks = self.processor.post_process_masks(logits, sizes)[0]
        else:
            masks = self.processor.image_processor.post_process_masks(logits, sizes, reshaped)[0]
        masks = np.asarray(masks[0], dtype=bool)                 # (K, H, W): the candidates of the one prompt
        scores = out.iou_scores.float().cpu().numpy().reshape(-1)[: len(masks)]
        if masks.shape[1:] != image.shape[:2]:
            raise EditbenchError(f"mask generator {self.name} returned a {masks.shape[2]}x{masks.shape[1]} mask for a "
                                 f"{image.shape[1]}x{image.shape[0]} image.")
        return choose(masks, scores, rule)


class SamVitB(SamGenerator):
    name = "sam-vit-b"


class SamVitH(SamGenerator):
    name = "sam-vit-h"

    def random_config(self):
        from transformers import SamConfig, SamVisionConfig

        return SamConfig(vision_config=SamVisionConfig(**SAM_VIT_H_VISION).to_dict())


class Sam2(SamGenerator):
    name = "sam2"
    family = "sam2"


# Loaded generators of this process, keyed by (name, weights): every task of an actor reuses one model.
_LOADED: dict[tuple[str, str | None], SamGenerator] = {}
_LOAD_LOCK = threading.Lock()


def loaded(generator: SamGenerator) -> SamGenerator:
    """The process-wide loaded copy of ``generator`` (loaded on first use)."""
    key = (generator.name, generator.weights)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = generator.load()
        return _LOADED[key]


def timed_segment(generator: SamGenerator, image: np.ndarray, **prompt) -> tuple[np.ndarray, float]:
    """(mask, milliseconds of preprocessing + model + postprocessing) on an already loaded generator."""
    sync = _sync(generator.device)
    sync()
    t0 = time.perf_counter()
    mask = generator.segment(image, **prompt)
    sync()
    return mask, (time.perf_counter() - t0) * 1e3


def _sync(device: str):
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None
