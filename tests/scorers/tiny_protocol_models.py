"""Tiny random-weight models in the save_pretrained layouts the protocol scorers load (scorers/protocol_models.py):
a DINO-shaped ViT, a CLIP model with a byte-level tokenizer written by hand, and LPIPS's SqueezeNet trunk."""

from __future__ import annotations

import json
from pathlib import Path


def save_tiny_vit(folder: Path, *, patch: int = 8, seed: int = 0) -> Path:
    import torch
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(seed)
    cfg = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                    image_size=224, patch_size=patch)
    ViTModel(cfg, add_pooling_layer=False).save_pretrained(folder)
    return folder


def _byte_vocab() -> dict[str, int]:
    """CLIP's byte-to-unicode table: every byte as a token and as an end-of-word token (no merges)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    chars = [chr(c) for c in cs]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = 512
    vocab["<|endoftext|>"] = 513
    return vocab


def save_tiny_hf_clip(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(_byte_vocab()))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"))
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=tok).save_pretrained(folder)
    torch.manual_seed(seed)
    cfg = CLIPConfig(text_config={"vocab_size": 514, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                                  "num_attention_heads": 2, "max_position_embeddings": 77, "bos_token_id": 512,
                                  "eos_token_id": 513, "pad_token_id": 513},
                     vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                                    "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
                     projection_dim=16)
    CLIPModel(cfg).save_pretrained(folder)
    return folder


def save_random_squeezenet(folder: Path, *, seed: int = 0) -> Path:
    """``squeezenet1_1.pth``: a random torchvision SqueezeNet-1.1 state dict (the LPIPS-squeeze trunk)."""
    import torch
    from torchvision.models import squeezenet1_1

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(squeezenet1_1(weights=None).state_dict(), folder / "squeezenet1_1.pth")
    return folder
