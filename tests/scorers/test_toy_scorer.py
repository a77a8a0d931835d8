"""Toy energy distance against the exact conditional: a perfect sampler sits at the floor, shrinkage and
unconditional sampling do not, while the residuals reward shrinkage."""

from __future__ import annotations

import math

import pytest
import torch

from harness.pipelines.base import Output
from harness.toy.task import DATA, cluster_posterior, exact_conditional, toy_source
from scorers.toy import ToyScorer, energy_distance
from tasks.schema import Task


def _task(mf):
    return Task(task_id="t", kind="toy", meta={"mask_fraction": mf, "n_samples": 400, "data_seed": 0})


def _score(task, x):
    return ToyScorer().score(task, Output(array=x.numpy(), latency_ms=1.0))


def test_cluster_posterior_is_bayes_rule_for_the_mixture():
    known = torch.tensor([[0.1, -0.3], [1.0, 0.9], [-0.05, 0.0]])
    s2 = DATA.noise_sd ** 2

    def lik(c):
        return torch.exp(-((known.double() - c * DATA.centre) ** 2).sum(1) / (2 * s2))

    expected = lik(1) / (lik(1) + lik(-1))
    assert torch.allclose(cluster_posterior(known), expected, atol=1e-12)


def test_exact_conditional_keeps_known_dims_and_matches_the_posterior():
    src = toy_source({"mask_fraction": 0.8, "n_samples": 4000, "data_seed": 1})
    draw = exact_conditional(src, generator=torch.Generator().manual_seed(0))
    assert torch.equal(draw[:, ~src.mask], src.x0[:, ~src.mask])
    side = draw[:, src.mask].mean(1).sign()
    p_plus = cluster_posterior(src.x0[:, ~src.mask])
    assert float((side > 0).double().mean()) == pytest.approx(float(p_plus.mean()), abs=0.02)
    spread = draw[:, src.mask] - side[:, None] * DATA.centre
    assert float(spread.std()) == pytest.approx(DATA.noise_sd, rel=0.05)


@pytest.mark.parametrize("mf", [0.4, 0.8])
def test_perfect_sampler_beats_shrinkage_and_unconditional_on_energy_distance(mf):
    task = _task(mf)
    src = toy_source(task.params)
    perfect = exact_conditional(src, generator=torch.Generator().manual_seed(123))
    shrunk = src.x0.clone()
    shrunk[:, src.mask] = (src.labels * DATA.centre)[:, None]        # the cluster centre: no spread
    g = torch.Generator().manual_seed(5)
    uncond = (torch.randint(0, 2, (len(src.x0),), generator=g) * 2 - 1.0)[:, None] + DATA.noise_sd * torch.randn(
        src.x0.shape, generator=g)
    p, s, u = _score(task, perfect), _score(task, shrunk), _score(task, uncond)
    assert p["energy_distance"] < 0.005
    assert s["energy_distance"] > 3 * p["energy_distance"]
    assert u["energy_distance"] > 0.1 > s["energy_distance"]
    assert s["masked_residual"] < p["masked_residual"]                # why the residuals are not primary
    assert all(math.isfinite(v) for v in p.values())


def test_energy_distance_helper():
    a = torch.randn(300, 3, generator=torch.Generator().manual_seed(0))
    assert energy_distance(a, a) == pytest.approx(0.0, abs=1e-12)
    assert energy_distance(a, a + 1.0) > 0.5
