"""The toy DDPM and its inpainting strategies, run directly (no Ray)."""

from __future__ import annotations

import pytest
import torch

from harness.toy import ddpm
from harness.toy.inpaint import (
    inpaint_naive,
    inpaint_repaint,
    repaint_states,
    sample_unconditional,
)
from harness.toy.task import toy_mask, toy_source

FRACTIONS = (0.2, 0.4, 0.6, 0.8)


def wrong_cluster(x, src):
    return float((x[:, src.mask].mean(1).sign() != src.labels).float().mean())


@pytest.fixture(scope="module")
def results(toy_model):
    """wrong-cluster rate per (strategy, fraction), same model and seed everywhere."""
    model, sched = toy_model
    torch.set_num_threads(1)
    out = {}
    for f in FRACTIONS:
        src = toy_source({"mask_fraction": f, "n_samples": 1000, "data_seed": 0})
        for name, fn in (("naive", inpaint_naive), ("repaint", inpaint_repaint)):
            x = fn(model, src.x0, src.mask, sched, torch.Generator().manual_seed(0))
            out[name, f] = (x, src)
    return out


def test_mask_takes_dims_from_the_end():
    assert toy_mask(0.4).tolist() == [False, False, False, True, True]
    assert toy_mask(0.2).tolist() == [False, False, False, False, True]
    with pytest.raises(ValueError, match="must mask between"):
        toy_mask(1.0)


@pytest.mark.parametrize("strategy", ["naive", "repaint"])
@pytest.mark.parametrize("fraction", FRACTIONS)
def test_known_dims_equal_source_exactly(results, strategy, fraction):
    x, src = results[strategy, fraction]
    assert torch.equal(x[:, ~src.mask], src.x0[:, ~src.mask])
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("strategy", ["naive", "repaint"])
def test_small_mask_lands_on_source_cluster(results, strategy):
    x, src = results[strategy, 0.2]
    assert 1 - wrong_cluster(x, src) >= 0.99


@pytest.mark.parametrize("strategy", ["naive", "repaint"])
def test_wrong_cluster_rises_with_mask_fraction(results, strategy):
    rates = [wrong_cluster(*results[strategy, f]) for f in FRACTIONS]
    assert rates == sorted(rates), rates
    assert rates[-1] > rates[0] + 0.1, rates


def test_repaint_beats_naive_at_0_6(results):
    assert wrong_cluster(*results["repaint", 0.6]) < wrong_cluster(*results["naive", 0.6])


def test_unconditional_ignores_the_source(toy_model):
    model, sched = toy_model
    x = sample_unconditional(model, 2000, 5, sched, torch.Generator().manual_seed(0))
    positive = float((x.mean(1) > 0).float().mean())
    assert 0.4 < positive < 0.6  # both clusters, about equally often
    # samples stay on one cluster in every dim (the model learned the joint structure)
    assert float((x.sign() == x.mean(1, keepdim=True).sign()).all(1).float().mean()) > 0.95


def test_same_seed_same_samples(toy_model):
    model, sched = toy_model
    src = toy_source({"mask_fraction": 0.6})
    a = inpaint_repaint(model, src.x0, src.mask, sched, torch.Generator().manual_seed(3))
    b = inpaint_repaint(model, src.x0, src.mask, sched, torch.Generator().manual_seed(3))
    c = inpaint_repaint(model, src.x0, src.mask, sched, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_repaint_schedule_matches_jump_structure():
    states = repaint_states(50, jump_length=10, resample=1)
    assert states[0] == 50 and states[-1] == 0
    assert all(abs(b - a) == 1 for a, b in zip(states, states[1:]))
    ups = sum(b > a for a, b in zip(states, states[1:]))
    # jumps at t = 0, 10, 20, 30 (range(0, T - jump_length, jump_length)), each jump_length states back once
    assert ups == 4 * 10
    assert len(states) - 1 == 50 + 2 * ups
    assert repaint_states(50, jump_length=10, resample=0) == list(range(50, -1, -1))
    two = repaint_states(50, jump_length=10, resample=2)
    assert sum(b > a for a, b in zip(two, two[1:])) == 2 * 4 * 10


def test_respaced_schedule_keeps_alpha_bars():
    sched = ddpm.Schedule.linear(ddpm.ToyConfig())
    short = sched.respaced(25)
    assert short.T == 25
    keep = short.model_t
    assert torch.allclose(short.alpha_bars, sched.alpha_bars[keep])
    assert int(keep[-1]) == sched.T


def test_training_is_deterministic_and_cached(tmp_path, monkeypatch):
    cfg = ddpm.ToyConfig(train_steps=20, seed=7)
    a, b = ddpm.train(cfg), ddpm.train(cfg)
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), k
    first = ddpm.load_or_train(cfg, directory=tmp_path)
    monkeypatch.setattr(ddpm, "train", lambda c: pytest.fail("retrained although cached"))
    second = ddpm.load_or_train(cfg, directory=tmp_path)
    for va, vb in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(va, vb)
    assert len(list((tmp_path / "toy").glob("toy-ddpm-*.pt"))) == 1
    assert ddpm.ToyConfig(seed=8).digest() != ddpm.ToyConfig(seed=7).digest()
