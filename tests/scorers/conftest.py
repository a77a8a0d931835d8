"""Tiny random-weight models for the scorers, saved in the layouts real weights use (docs/weights.md).

- openpose/body_pose_model.pth and hand_pose_model.pth: controlnet_aux's bodypose_model and
  handpose_model with random init, keys as in the released files (without the sub-network prefix that
  controlnet_aux's ``transfer`` strips);
- insightface/w600k_r50.onnx: a 2-layer ONNX net with a 1x3x112x112 input (dynamic batch) and one
  16-d output, which insightface's model zoo routes to ArcFace;
- open_clip/: a tiny open_clip config (registered with open_clip.add_model_config), its random
  checkpoint and config.json naming both;
- lpips/: a random torchvision AlexNet's ``features`` (alexnet.pth, keys ``features.*`` as in the
  released state dict) and random non-negative LPIPS linear heads (alex.pth, keys ``lin0.model.1.weight`` ...).

Everything is built once per session; the ``weights_env`` fixture points $EDITBENCH_WEIGHTS at it.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.scorers.tiny_protocol_models import save_random_squeezenet, save_tiny_hf_clip, save_tiny_vit

TINY_CLIP = "editbench-tiny-clip"
TINY_CLIP_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def save_random_openpose(folder: Path, seed: int = 0) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose.model import bodypose_model

    torch.manual_seed(seed)
    model = bodypose_model()
    # Released checkpoints name "conv1_1.weight", not "model0.conv1_1.weight" (see util.transfer).
    torch.save({k.split(".", 1)[1]: v for k, v in model.state_dict().items()}, folder / "body_pose_model.pth")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose.model import handpose_model
    hand = handpose_model()   # same key convention: "conv1_1.weight", not "model1_0.conv1_1.weight"
    torch.save({k.split(".", 1)[1]: v for k, v in hand.state_dict().items()}, folder / "hand_pose_model.pth")


def save_tiny_arcface(path: Path, *, side: int = 112, dim: int = 16, seed: int = 0) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    k = side // 7 if side % 7 == 0 else 16
    n_cells = (side // k) ** 2
    w = numpy_helper.from_array(rng.normal(0, 0.05, (8, 3, k, k)).astype(np.float32), "conv_w")
    b = numpy_helper.from_array(np.zeros(8, np.float32), "conv_b")
    fw = numpy_helper.from_array(rng.normal(0, 0.1, (8 * n_cells, dim)).astype(np.float32), "fc_w")
    fb = numpy_helper.from_array(np.zeros(dim, np.float32), "fc_b")
    nodes = [
        helper.make_node("Conv", ["data", "conv_w", "conv_b"], ["c"], name="conv0", kernel_shape=[k, k], strides=[k, k]),
        helper.make_node("Relu", ["c"], ["r"], name="relu0"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten0", axis=1),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["fc1"], name="fc0"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_arcface",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, side, side])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", dim])],
        initializer=[w, b, fw, fb],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def save_tiny_open_clip(folder: Path, seed: int = 0) -> None:
    import open_clip
    import torch

    cfg_path = folder / f"{TINY_CLIP}.json"
    cfg_path.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(cfg_path)
    torch.manual_seed(seed)
    model = open_clip.create_model(TINY_CLIP, pretrained=None)
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps({"model_name": TINY_CLIP, "checkpoint": "open_clip_pytorch_model.bin"}))


def save_random_lpips(folder: Path, seed: int = 0) -> None:
    import lpips
    import torch
    from torchvision.models import alexnet

    torch.manual_seed(seed)
    features = alexnet(weights=None).features.state_dict()
    torch.save({f"features.{k}": v for k, v in features.items()}, folder / "alexnet.pth")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        heads = lpips.LPIPS(net="alex", pretrained=False, pnet_rand=True, verbose=False).state_dict()
    # random non-negative heads, as trained ones are (LPIPS clamps its linear weights to >= 0)
    torch.save({k: v.abs() for k, v in heads.items() if k.startswith("lin")}, folder / "alex.pth")


@pytest.fixture(scope="session")
def _weights_base(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("weights")


def _model_fixture(name: str, sub: str, build):
    @pytest.fixture(scope="session", name=name)
    def fixture(_weights_base) -> Path:
        folder = _weights_base / sub
        folder.mkdir()
        build(folder)
        return folder

    return fixture


openpose_weights = _model_fixture("openpose_weights", "openpose", save_random_openpose)
insightface_weights = _model_fixture("insightface_weights", "insightface",
                                     lambda d: save_tiny_arcface(d / "w600k_r50.onnx"))
open_clip_weights = _model_fixture("open_clip_weights", "open_clip", save_tiny_open_clip)
lpips_weights = _model_fixture("lpips_weights", "lpips", save_random_lpips)
squeeze_weights = _model_fixture("squeeze_weights", "lpips-squeeze", save_random_squeezenet)
dino_weights = _model_fixture("dino_weights", "dino-vitb8", save_tiny_vit)
dino16_weights = _model_fixture("dino16_weights", "dino-vits16", lambda d: save_tiny_vit(d, patch=16))
hf_clip_weights = _model_fixture("hf_clip_weights", "clip-hf", save_tiny_hf_clip)


@pytest.fixture(scope="session")
def weights_root(_weights_base, openpose_weights, insightface_weights, open_clip_weights, lpips_weights) -> Path:
    """$EDITBENCH_WEIGHTS layout with all four tiny models."""
    return _weights_base


@pytest.fixture
def weights_env(weights_root, monkeypatch) -> Path:
    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(weights_root))
    return weights_root


@pytest.fixture(scope="session")
def loaded_scorers(request):
    """``loaded_scorers(name)``: a scorer loaded once per session from the tiny weights."""
    from scorers.base import get_scorer_class

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            opts = {}
            if name in _FIXTURE:
                opts["weights"] = str(request.getfixturevalue(_FIXTURE[name]))
            for option, fixture in _PROTOCOL_FIXTURES.get(name, {}).items():
                opts[option] = str(request.getfixturevalue(fixture))
            if name.startswith("judge"):   # the loopback chat-completions server (judge_server.py)
                opts.update(request.getfixturevalue("judge_options"))
            if name == "hand_pose":                # one small scale: the 21-stage hand net in seconds on CPU
                opts.update(scales=[1.0], boxsize=64)
            s = get_scorer_class(name)(**opts)
            s.check()
            s.load()
            cache[name] = s
        return cache[name]

    return get


# The benchmark-protocol scorers take one weights option per model (scorers/pie.py, brushbench.py, magicbrush.py).
_PROTOCOL_FIXTURES = {
    "pie": {"lpips_weights": "squeeze_weights", "dino_weights": "dino_weights", "clip_weights": "hf_clip_weights"},
    "brushbench": {"lpips_weights": "squeeze_weights", "clip_weights": "hf_clip_weights"},
    "magicbrush": {"clip_weights": "hf_clip_weights", "dino_weights": "dino16_weights"},
}
_FIXTURE = {"pose": "openpose_weights", "hand_pose": "openpose_weights", "identity": "insightface_weights",
            "clip": "open_clip_weights",
            "lpips": "lpips_weights"}


def save_png(path: Path, image: np.ndarray) -> str:
    from PIL import Image

    Image.fromarray(image).save(path)
    return str(path)


def make_task(tmp_path: Path, image: np.ndarray, *, kind: str = "inpaint", mask=None, **fields):
    """A Task whose image (and any array-valued reference/target) is written to ``tmp_path``."""
    from tasks.schema import Task

    for name in ("reference", "target"):
        if isinstance(fields.get(name), np.ndarray):
            fields[name] = save_png(tmp_path / f"{name}.png", fields[name])
    if isinstance(mask, np.ndarray):
        mask = save_png(tmp_path / "mask.png", (mask.astype(np.uint8) * 255))
    return Task(task_id="t", kind=kind, suite="test", image=save_png(tmp_path / "image.png", image), mask=mask, **fields)


def output_of(image: np.ndarray):
    from harness.pipelines.base import Output

    return Output(image=np.asarray(image, dtype=np.uint8), latency_ms=1.0)


@pytest.fixture
def task_of(tmp_path):
    """``task_of(image, mask=..., **fields)`` -> Task with its files in the test's tmp_path."""
    return lambda image, **kw: make_task(tmp_path, image, **kw)


@pytest.fixture
def out_of():
    """``out_of(image)`` -> pipeline Output holding ``image``."""
    return output_of


@pytest.fixture
def tiny_onnx():
    """``tiny_onnx(path, side=112)`` writes the tiny ArcFace-shaped ONNX (another side -> not ArcFace)."""
    return save_tiny_arcface


JUDGE_KEY_ENV = "EDITBENCH_TEST_JUDGE_KEY"
os.environ.setdefault(JUDGE_KEY_ENV, f"sk-editbench-judge-{secrets.token_hex(16)}")


@pytest.fixture(scope="session")
def judge_server():
    """A loopback chat-completions server (tests/scorers/judge_server.py) that takes the judge test key."""
    from tests.scorers.judge_server import JudgeServer

    server = JudgeServer(os.environ[JUDGE_KEY_ENV]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def judge_options(judge_server, tmp_path_factory) -> dict:
    """Judge options pointing at the loopback server, with a session cache folder."""
    return {"base_url": judge_server.base_url, "api_key_env": JUDGE_KEY_ENV, "model": "judge-test-1",
            "cache_dir": str(tmp_path_factory.mktemp("judge-cache")), "backoff_s": 0.01, "backoff_max_s": 0.05}
