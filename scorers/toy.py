"""Toy scorer: how well the regenerated dims of the 5-D toy agree with the source's cluster.

For source samples x (cluster centre c = label * 1.0 in every dim) and outputs x̂, with M the set of
masked dims and b = min(M) the masked dim adjacent to the known dims:

- ``masked_residual``   = mean over samples i and d in M of |x̂_id - c_i|          (lower is better)
- ``boundary_residual`` = mean over samples i of |x̂_ib - c_i|                       (lower is better)
- ``wrong_cluster``     = share of samples with sign(mean_{d in M} x̂_id) != label_i  (lower is better)

An unconditional sampler has wrong_cluster ~ 0.5 and masked residual ~ 1.0 (it picks a cluster at
random). See docs/metrics.md.
"""

from __future__ import annotations

from scorers.base import Metric, Scorer


class ToyScorer(Scorer):
    name = "toy"
    kinds = frozenset({"toy"})
    metrics = {"masked_residual": Metric("lower", range=(0.0, None)), "boundary_residual": Metric("lower", range=(0.0, None)),
               "wrong_cluster": Metric("lower", range=(0.0, 1.0))}

    def score(self, task, output) -> dict[str, float]:
        import torch

        from harness.toy.task import DATA, toy_source

        src = toy_source(task.params)
        x = torch.as_tensor(output.array, dtype=torch.float32)
        if x.shape != src.x0.shape:
            raise ValueError(f"toy output has shape {tuple(x.shape)}, expected {tuple(src.x0.shape)}")
        centre = (src.labels * DATA.centre)[:, None]
        masked = x[:, src.mask]
        return {
            "masked_residual": float((masked - centre).abs().mean()),
            "boundary_residual": float((x[:, src.boundary_dim] - centre[:, 0]).abs().mean()),
            "wrong_cluster": float((masked.mean(1).sign() != src.labels).float().mean()),
        }
