"""What a toy task means: its source samples and its mask, derived deterministically from params.

Task params: ``mask_fraction`` (share of the 5 dims to regenerate, taken from the end: 0.4 masks
dims 3 and 4), ``n_samples`` (source batch size, default 1000) and ``data_seed`` (default 0).
Pipelines and scorers both call :func:`toy_source`, so they agree on the source without shipping it.
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
