"""CLIP: the tiny open_clip config loads through config.json + checkpoint; scores follow CLIPScore."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scorers.clip import ClipScorer, clip_score


def _img(seed=0, shape=(48, 64)):
    return np.random.default_rng(seed).integers(0, 255, (*shape, 3), dtype=np.uint8)


def _reference_score(scorer, image, text):
    """torchmetrics' CLIPScore definition, computed independently: max(100 * cos, 0)."""
    import torch
    from PIL import Image

    with torch.no_grad():
        e_i = scorer.model.encode_image(scorer.preprocess(Image.fromarray(image))[None])[0].double()
        e_t = scorer.model.encode_text(scorer.tokenizer([text]))[0].double()
    return max(100.0 * float(torch.nn.functional.cosine_similarity(e_i, e_t, dim=0)), 0.0)


def test_checkpoint_is_loaded_not_random(loaded_scorers, open_clip_weights):
    import torch

    s = loaded_scorers("clip")
    saved = torch.load(open_clip_weights / "open_clip_pytorch_model.bin", weights_only=True)
    for k, v in s.model.state_dict().items():
        torch.testing.assert_close(v.cpu(), saved[k])


def test_scores_follow_the_clipscore_definition(loaded_scorers, task_of, out_of):
    s = loaded_scorers("clip")
    img = _img()
    box = [10, 8, 40, 30]
    task = task_of(img, mask={"box": box}, prompt="a red bicycle")
    vals = s.score(task, out_of(img))
    assert vals["score"] == pytest.approx(_reference_score(s, img, "a red bicycle"), abs=1e-4)
    crop = img[box[1]:box[3], box[0]:box[2]]
    assert vals["score_masked"] == pytest.approx(_reference_score(s, crop, "a red bicycle"), abs=1e-4)
    assert 0.0 <= vals["score"] <= 100.0


def test_clip_score_is_clamped_at_zero():
    import torch

    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[-1.0, 0.0], [2.0, 2.0]])
    out = clip_score(a, b)
    assert out[0] == 0.0 and out[1] == pytest.approx(100.0)


def test_batch_equals_single_and_missing_prompt_or_mask_gives_nan(loaded_scorers, task_of, out_of):
    s = loaded_scorers("clip")
    t1 = task_of(_img(1), mask={"box": [0, 0, 20, 20]}, prompt="a cat")
    rows = s.score_batch([t1, t1], [out_of(_img(2)), out_of(_img(3))])
    assert rows[1] == pytest.approx(s.score(t1, out_of(_img(3))), abs=1e-4)
    assert rows[0] != rows[1]
    no_prompt = s.score(task_of(_img(1)), out_of(_img(1)))
    assert math.isnan(no_prompt["score"]) and math.isnan(no_prompt["score_masked"])
    no_mask = s.score(task_of(_img(1), prompt="a cat"), out_of(_img(1)))
    assert not math.isnan(no_mask["score"]) and math.isnan(no_mask["score_masked"])


def test_missing_config_or_checkpoint_names_the_path(tmp_path, monkeypatch):
    from harness.core.errors import WeightsNotFound

    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path))
    folder = tmp_path / "open_clip"
    with pytest.raises(WeightsNotFound, match=str(folder)):
        ClipScorer().check()
    folder.mkdir()
    with pytest.raises(WeightsNotFound, match=str(folder / "config.json")):
        ClipScorer().check()
    (folder / "config.json").write_text(json.dumps({"model_name": "ViT-B-32", "checkpoint": "model.bin"}))
    with pytest.raises(WeightsNotFound, match=str(folder / "model.bin")):
        ClipScorer().check()
