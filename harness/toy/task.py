"""What a toy task means: its source samples and its mask, derived deterministically from params.

Task params: ``mask_fraction`` (share of the 5 dims to regenerate, taken from the end: 0.4 masks
dims 3 and 4), ``n_samples`` (source batch size, default 1000) and ``data_seed`` (default 0).
Pipelines and scorers both call :func:`toy_source`, so they agree on the source without shipping it.
:func:`exact_conditional` draws the masked dims from their exact conditional distribution, which the
two-cluster mixture gives in closed form (the toy scorer's reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.toy.ddpm import ToyConfig, sample_data

DATA = ToyConfig()  # data parameters (dim, centres, noise sd); model parameters are the pipeline's


@dataclass(frozen=True)
class ToySource:
    x0: torch.Tensor      # (n, dim) source samples
    labels: torch.Tensor  # (n,) source cluster, -1 or +1
    mask: torch.Tensor    # (dim,) bool, True = regenerate

    @property
    def boundary_dim(self) -> int:
        """The masked dim adjacent to the known dims (the first masked one)."""
        return int(self.mask.nonzero()[0])


def toy_mask(mask_fraction: float, dim: int = DATA.dim) -> torch.Tensor:
    k = round(mask_fraction * dim)
    if not 1 <= k <= dim - 1:
        raise ValueError(f"mask_fraction {mask_fraction} masks {k} of {dim} dims; it must mask between 1 and {dim - 1}")
    mask = torch.zeros(dim, dtype=torch.bool)
    mask[dim - k:] = True
    return mask


def toy_source(params: dict) -> ToySource:
    n = int(params.get("n_samples", 1000))
    g = torch.Generator().manual_seed(int(params.get("data_seed", 0)))
    x0, labels = sample_data(n, config=DATA, generator=g)
    return ToySource(x0=x0, labels=labels, mask=toy_mask(float(params["mask_fraction"])))


def cluster_posterior(known: torch.Tensor, *, config: ToyConfig = DATA) -> torch.Tensor:
    """P(cluster = +1 | known dims) for rows of ``known`` (n, k), float64 (n,).

    With equal cluster weights and isotropic noise sd s around +-c in every dim,
    log P(+1 | x_K) - log P(-1 | x_K) = 2 c sum_K x_d / s^2, so P(+1 | x_K) = sigmoid(2 c sum_K x_d / s^2).
    """
    z = 2.0 * config.centre * known.to(torch.float64).sum(dim=1) / config.noise_sd ** 2
    return torch.sigmoid(z)


def exact_conditional(source: ToySource, *, generator: torch.Generator, config: ToyConfig = DATA) -> torch.Tensor:
    """The source's known dims with the masked dims drawn from p(x_M | x_K), (n, dim) float32.

    Given the known dims, the cluster is +1 with probability :func:`cluster_posterior`, and the masked
    dims are then independent N(cluster * c, s^2) (the dims of a sample are independent given its cluster).
    """
    known = source.x0[:, ~source.mask]
    p_plus = cluster_posterior(known, config=config)
    u = torch.rand(len(p_plus), generator=generator, dtype=torch.float64)
    cluster = torch.where(u < p_plus, 1.0, -1.0).to(torch.float32)
    k = int(source.mask.sum())
    masked = cluster[:, None] * config.centre + config.noise_sd * torch.randn(len(p_plus), k, generator=generator)
    out = source.x0.clone()
    out[:, source.mask] = masked
    return out
