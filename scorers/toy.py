"""Toy scorer: how well the regenerated dims of the 5-D toy match their exact conditional distribution.

For the task's n source samples x (cluster centre c_i = label_i * 1.0 in every dim), the outputs x̂
(n, 5), M the set of masked dims and b = min(M) the masked dim adjacent to the known dims:

- ``energy_distance`` (primary) = 2 E|A - B| - E|A - A'| - E|B - B'| (Székely & Rizzo's energy
  distance, V-statistic over all pairs, |.| Euclidean in R^5) between the joint vectors
  A = {(x_iK, x̂_iM)} (each source row's known dims with the output's masked dims) and a reference B
  of the same known dims with the masked dims drawn from their exact conditional p(x_M | x_K)
  (closed form, :func:`harness.toy.task.exact_conditional`), ``REFERENCE_DRAWS`` draws per row from a
  generator seeded with REFERENCE_SEED + data_seed.   (lower is better)
- ``masked_residual``   = mean over samples i and d in M of |x̂_id - c_i|          (lower is better)
- ``boundary_residual`` = mean over samples i of |x̂_ib - c_i|                       (lower is better)
- ``wrong_cluster``     = share of samples with sign(mean_{d in M} x̂_id) != label_i  (lower is better)

The residuals reward shrinkage: filling the masked dims with the cluster centre beats a perfect
sampler on them. The energy distance does not: it is near 0 only when the masked dims have their
conditional distribution given each row's known dims (cluster agreement *and* spread), up to a
finite-sample floor (docs/metrics.md). Pairing the output's masked dims with the *source's* known
dims is what makes it conditional: an unconditional sampler reproduces the joint distribution of
its own rows but not the pairing. See docs/metrics.md.
"""

from __future__ import annotations

from scorers.base import Metric, Scorer
from tasks.schema import Task

REFERENCE_SEED = 7_919     # + data_seed: the generator of the exact-conditional reference draws
REFERENCE_DRAWS = 4        # reference rows per source row


def energy_distance(a, b) -> float:
    """V-statistic energy distance 2 E|a - b| - E|a - a'| - E|b - b'| of row samples (n, d) and (m, d), >= 0."""
    import torch

    a, b = a.to(torch.float64), b.to(torch.float64)
    return float(2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())


def conditional_reference(params: dict):
    """Rows of the exact-conditional reference for a toy task's params, (REFERENCE_DRAWS * n, dim)."""
    import torch

    from harness.toy.task import exact_conditional, toy_source

    src = toy_source(params)
    g = torch.Generator().manual_seed(REFERENCE_SEED + int(params.get("data_seed", 0)))
    return torch.cat([exact_conditional(src, generator=g) for _ in range(REFERENCE_DRAWS)])


class ToyScorer(Scorer):
    name = "toy"
    kinds = frozenset({"toy"})
    metrics = {"energy_distance": Metric("lower", range=(0.0, None)),
               "masked_residual": Metric("lower", range=(0.0, None)), "boundary_residual": Metric("lower", range=(0.0, None)),
               "wrong_cluster": Metric("lower", range=(0.0, 1.0))}

    def score(self, task: Task, output) -> dict[str, float]:
        import torch

        from harness.toy.task import DATA, toy_source

        src = toy_source(task.params)
        x = torch.as_tensor(output.array, dtype=torch.float32)
        if x.shape != src.x0.shape:
            raise ValueError(f"toy output has shape {tuple(x.shape)}, expected {tuple(src.x0.shape)}")
        centre = (src.labels * DATA.centre)[:, None]
        masked = x[:, src.mask]
        joint = src.x0.clone()
        joint[:, src.mask] = masked
        return {
            "energy_distance": energy_distance(joint, conditional_reference(task.params)),
            "masked_residual": float((masked - centre).abs().mean()),
            "boundary_residual": float((x[:, src.boundary_dim] - centre[:, 0]).abs().mean()),
            "wrong_cluster": float((masked.mean(1).sign() != src.labels).float().mean()),
        }
