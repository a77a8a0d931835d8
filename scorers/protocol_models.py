"""The models the published benchmark protocols use, loaded from local folders (nothing is downloaded).

- LPIPS with the SqueezeNet trunk (``torchmetrics`` ``LearnedPerceptualImagePatchSimilarity(net_type=
  "squeeze")``, which PIE-Bench and BrushBench use): built with the ``lpips`` package
  (``LPIPS(net="squeeze", pnet_rand=True)``, the same ScalingLayer, SqueezeNet-1.1 slices and v0.1 linear
  heads torchmetrics vendors); the trunk from ``<folder>/squeezenet1_1.pth`` (a torchvision
  ``squeezenet1_1`` state dict, ``features.*`` keys), the heads from ``<folder>/squeeze.pth`` or the copy
  bundled with ``lpips``. Folder: ``$EDITBENCH_WEIGHTS/lpips`` (beside the AlexNet files of scorers/perceptual.py).
- DINO ViTs as Hugging Face ``ViTModel`` ``save_pretrained`` folders (``facebook/dino-vitb8``,
  ``facebook/dino-vits16``): :class:`Dino` gives the key self-similarity of the last block (PIE-Bench's
  structure distance, after Splice's ``VitExtractor.get_keys_self_sim_from_input``) and the CLS embedding
  (MagicBrush's DINO score).
- CLIP as a Hugging Face ``CLIPModel`` + ``CLIPProcessor`` folder (``openai/clip-vit-large-patch14``,
  ``openai/clip-vit-base-patch32``): :class:`HfClip` computes what ``torchmetrics`` ``CLIPScore`` does
  (processor, ``get_image_features`` / ``get_text_features``, L2-normalised, ``max(100 cos, 0)``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from harness.core.errors import WeightsNotFound
from harness.core.weights import resolve_weights
from scorers.perceptual import sliced_trunk_state
from scorers.regions import torch_device

SQUEEZE_TRUNK = "squeezenet1_1.pth"
SQUEEZE_HEADS = "squeeze.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_lpips_squeeze(folder: Path):
    """``lpips.LPIPS(net="squeeze")`` (eval mode) from local files; every tensor checked by name."""
    import lpips
    import torch

    trunk_path = folder / SQUEEZE_TRUNK
    if not trunk_path.is_file():
        raise WeightsNotFound(f"weights for LPIPS (squeeze) are incomplete: expected file {trunk_path} "
                              "(a torchvision squeezenet1_1 state dict).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(net="squeeze", pretrained=False, pnet_rand=True, verbose=False)
    try:
        model.net.load_state_dict(sliced_trunk_state(trunk_path, model.net), strict=True)
    except RuntimeError as e:
        raise WeightsNotFound(f"{trunk_path} is not a torchvision squeezenet1_1 state dict: "
                              f"{str(e).splitlines()[0]}") from None
    heads_path = folder / SQUEEZE_HEADS
    if not heads_path.is_file():
        heads_path = Path(lpips.__file__).parent / "weights" / "v0.1" / SQUEEZE_HEADS
    heads = torch.load(heads_path, map_location="cpu", weights_only=True)
    expected = {k for k in model.state_dict() if re.match(r"lin\d+\.", k)}
    if set(heads) != expected:
        raise WeightsNotFound(f"{heads_path} is not a set of LPIPS squeeze linear heads: expected keys "
                              f"{sorted(expected)[:4]}..., found {sorted(heads)[:4]}.")
    model.load_state_dict(heads, strict=False)
    return model.eval()


def lpips_distance(model, a: np.ndarray, b: np.ndarray, *, device: str) -> float:
    """LPIPS of float images (H, W, 3) in [0, 1], fed as ``x * 2 - 1`` (PIE / BrushBench), spatially averaged."""
    import torch

    def t(x):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(2, 0, 1)[None].to(device) * 2 - 1

    with torch.no_grad():
        return float(model(t(a), t(b)).reshape(-1)[0])


def _hf_folder(folder: Path, what: str) -> Path:
    if not (folder / "config.json").is_file():
        raise WeightsNotFound(f"weights for {what} are incomplete: expected a save_pretrained folder with "
                              f"{folder / 'config.json'}.")
    return folder


class Dino:
    """A DINO ViT (Hugging Face ``ViTModel``) on ``device``; last block's keys captured by a hook."""

    def __init__(self, folder: Path, *, device: str):
        import torch
        from transformers import ViTModel

        self.device = device
        self.model = ViTModel.from_pretrained(str(_hf_folder(folder, "DINO")), add_pooling_layer=False).eval().to(device)
        keys = [m for n, m in self.model.named_modules()
                if n.endswith((".k_proj", ".attention.attention.key")) and isinstance(m, torch.nn.Linear)]
        if not keys:
            raise WeightsNotFound(f"{folder} is not a ViT whose attention has a key projection.")
        self._keys = None
        keys[-1].register_forward_hook(lambda _m, _i, out: setattr(self, "_keys", out))

    def keys_self_similarity(self, image):
        """Cosine-similarity matrix (T, T) of the last block's keys (all heads concatenated, CLS included)
        of one normalised image tensor (3, H, W)."""
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            self.model(pixel_values=image[None].to(self.device), interpolate_pos_encoding=True)
            k = F.normalize(self._keys[0].float(), dim=-1)
        return k @ k.T

    def cls(self, image):
        """Final-norm CLS embedding (D,) of one normalised image tensor (3, H, W)."""
        import torch

        with torch.no_grad():
            out = self.model(pixel_values=image[None].to(self.device), interpolate_pos_encoding=True)
        return out.last_hidden_state[0, 0].float()


class HfClip:
    """CLIP (Hugging Face ``CLIPModel`` + ``CLIPProcessor``) scored as torchmetrics ``CLIPScore`` scores."""

    def __init__(self, folder: Path, *, device: str):
        from transformers import CLIPModel, CLIPProcessor

        folder = _hf_folder(folder, "CLIP")
        self.device = device
        self.model = CLIPModel.from_pretrained(str(folder)).eval().to(device)
        self.processor = CLIPProcessor.from_pretrained(str(folder))

    def image_features(self, images: list[np.ndarray]):
        import torch
        import torch.nn.functional as F

        px = self.processor(images=[np.asarray(i, dtype=np.uint8) for i in images], return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            f = self.model.get_image_features(pixel_values=px.to(self.device))
        f = getattr(f, "pooler_output", f)
        return F.normalize(f.float(), dim=-1)

    def text_features(self, texts: list[str]):
        import torch
        import torch.nn.functional as F

        n = self.model.config.text_config.max_position_embeddings
        tok = self.processor(text=texts, return_tensors="pt", padding=True, truncation=True, max_length=n)
        with torch.no_grad():
            f = self.model.get_text_features(input_ids=tok["input_ids"].to(self.device),
                                             attention_mask=tok["attention_mask"].to(self.device))
        f = getattr(f, "pooler_output", f)
        return F.normalize(f.float(), dim=-1)

    def score(self, images: list[np.ndarray], texts: list[str]) -> list[float]:
        """``max(100 * cos(image, text), 0)`` per pair (torchmetrics CLIPScore of one pair)."""
        s = (self.image_features(images) * self.text_features(texts)).sum(-1) * 100
        return [max(float(v), 0.0) for v in s]


def imagenet_tensor(image: np.ndarray, *, scale: float):
    """(3, H, W) float tensor of an (H, W, 3) array divided by ``scale``, ImageNet-normalised."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1) / scale
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    return (x - mean) / std


@dataclass(frozen=True)
class ModelSlot:
    """One model a protocol scorer may load: its ``models`` option entry (also the attribute it is loaded
    into), its weights name, the option holding an explicit path, the file that must be there, and how it
    is built from its folder on a device."""

    name: str
    weights_name: str
    option: str
    required: str
    build: Callable[[Path, str], Any]


LPIPS_SQUEEZE = ModelSlot("lpips", "lpips", "lpips_weights", SQUEEZE_TRUNK,
                          lambda folder, device: build_lpips_squeeze(folder).to(device))


def dino_slot(weights_name: str) -> ModelSlot:
    return ModelSlot("dino", weights_name, "dino_weights", "config.json", lambda f, device: Dino(f, device=device))


def clip_slot(weights_name: str) -> ModelSlot:
    return ModelSlot("clip", weights_name, "clip_weights", "config.json", lambda f, device: HfClip(f, device=device))


class ProtocolModels:
    """What the protocol scorers share: each :class:`ModelSlot` of ``slots`` that ``options.models`` names
    is found at :meth:`check` (missing weights: one sentence naming the path) and loaded at :meth:`load`
    into the attribute of its name; the others stay None and their columns NaN."""

    slots: ClassVar[tuple[ModelSlot, ...]] = ()
    options: Any

    def _folders(self) -> dict[str, Path]:
        return {s.name: resolve_weights(s.weights_name, getattr(self.options, s.option), required=(s.required,))
                for s in self.slots if s.name in self.options.models}

    def check(self) -> None:
        self._folders()

    def load(self) -> None:
        folders = self._folders()
        self.device = torch_device(self.options.device)
        for s in self.slots:
            if s.name in folders:
                setattr(self, s.name, s.build(folders[s.name], self.device))
