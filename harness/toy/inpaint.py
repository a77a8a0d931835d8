"""Sampling and inpainting strategies for the toy DDPM, as pure functions over a model callable.

``eps_model(x_t, t) -> eps`` predicts the noise in ``x_t`` at model timestep ``t`` (shape (B,)).
Masks are boolean with the contract's polarity: True = regenerate, False = keep.

- :func:`sample_unconditional` regenerates every dim (the reference for the exercises).
- :func:`inpaint_naive`: after every reverse step the known dims are replaced by the clean source
  forward-noised to the same state, q(x_s | x_0) (the "replacement" method of Song et al. 2021,
  section 5; RePaint's Algorithm 1 without resampling).
- :func:`inpaint_repaint`: the same plus RePaint resampling (Lugmayr et al. 2022): every
  ``jump_length`` states the sampler jumps back ``jump_length`` states with forward noise
  q(x_{s+1} | x_s) and denoises again, ``resample`` times, so the unknown dims are harmonised with the
  known ones. The jump schedule is the one of ``diffusers.RePaintScheduler`` / the paper's code
  (``get_schedule_jump``) with ``jump_n_sample = resample + 1``.

At the end (state 0) the known dims equal the source exactly.
"""

from __future__ import annotations

from typing import Callable

import torch

from harness.toy.ddpm import Schedule

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def repaint_states(T: int, *, jump_length: int = 10, resample: int = 1) -> list[int]:
    """States visited by RePaint, starting at T and ending at 0 (0 = clean).

    A decrease by one is a reverse (denoising) step; an increase by one is a forward (noising) step.
    With ``resample = 0`` this is plain T, T-1, ..., 0.
    """
    if jump_length < 1 or resample < 0:
        raise ValueError(f"need jump_length >= 1 and resample >= 0, got {jump_length}, {resample}")
    # get_schedule_jump of the RePaint code, in its 0-based timesteps t (state s = t + 1, t = -1 clean).
    jumps = {j: resample for j in range(0, T - jump_length, jump_length)}
    t, ts = T, []
    while t >= 1:
        t -= 1
        ts.append(t)
        if jumps.get(t, 0) > 0:
            jumps[t] -= 1
            for _ in range(jump_length):
                t += 1
                ts.append(t)
    ts.append(-1)
    return [t + 1 for t in ts]  # ts starts at T-1, i.e. state T


def q_sample(x0: torch.Tensor, s: int, sched: Schedule, generator: torch.Generator) -> torch.Tensor:
    """Forward-noise clean data to state s: sqrt(abar_s) x0 + sqrt(1 - abar_s) z."""
    if s == 0:
        return x0.clone()
    abar = float(sched.alpha_bars[s])
    return abar ** 0.5 * x0 + (1 - abar) ** 0.5 * torch.randn(x0.shape, generator=generator)


def forward_step(x: torch.Tensor, s: int, sched: Schedule, generator: torch.Generator) -> torch.Tensor:
    """One forward step from state s to s+1: sqrt(1 - beta_{s+1}) x + sqrt(beta_{s+1}) z."""
    beta = float(sched.betas[s + 1])
    return (1 - beta) ** 0.5 * x + beta ** 0.5 * torch.randn(x.shape, generator=generator)


@torch.no_grad()
def reverse_step(eps_model: EpsModel, x: torch.Tensor, s: int, sched: Schedule, generator: torch.Generator) -> torch.Tensor:
    """Ancestral DDPM step from state s to s-1 (Ho et al. 2020, Algorithm 2), posterior variance beta~_s."""
    beta, alpha, abar = (float(v[s]) for v in (sched.betas, sched.alphas, sched.alpha_bars))
    t = torch.full((x.shape[0],), int(sched.model_t[s]), dtype=torch.long)
    eps = eps_model(x, t)
    mean = (x - beta / (1 - abar) ** 0.5 * eps) / alpha ** 0.5
    if s == 1:
        return mean
    var = beta * (1 - float(sched.alpha_bars[s - 1])) / (1 - abar)
    return mean + var ** 0.5 * torch.randn(x.shape, generator=generator)


def _run_states(
    eps_model: EpsModel,
    states: list[int],
    sched: Schedule,
    generator: torch.Generator,
    *,
    x0_known: torch.Tensor | None,
    mask: torch.Tensor | None,
    shape: tuple[int, ...],
) -> torch.Tensor:
    """Walk a state sequence; after each reverse step put q(x_s | x0) back into the known dims."""
    x = torch.randn(shape, generator=generator)
    for s_prev, s in zip(states[:-1], states[1:]):
        if s == s_prev - 1:
            x = reverse_step(eps_model, x, s_prev, sched, generator)
            if mask is not None:
                x = torch.where(mask, x, q_sample(x0_known, s, sched, generator))
        elif s == s_prev + 1:
            x = forward_step(x, s_prev, sched, generator)
        else:
            raise ValueError(f"state sequence must move by one, got {s_prev} -> {s}")
    return x


def sample_unconditional(eps_model: EpsModel, n: int, dim: int, sched: Schedule, generator: torch.Generator) -> torch.Tensor:
    """Generate ``n`` samples of ``dim`` floats from noise."""
    states = list(range(sched.T, -1, -1))
    return _run_states(eps_model, states, sched, generator, x0_known=None, mask=None, shape=(n, dim))


def inpaint_naive(eps_model: EpsModel, x0: torch.Tensor, mask: torch.Tensor, sched: Schedule,
                  generator: torch.Generator) -> torch.Tensor:
    """Regenerate ``x0[:, mask]``; ``mask`` (bool, shape (dim,) or x0.shape) is True where to regenerate."""
    states = list(range(sched.T, -1, -1))
    mask = mask.expand_as(x0)
    return _run_states(eps_model, states, sched, generator, x0_known=x0, mask=mask, shape=tuple(x0.shape))


def inpaint_repaint(
    eps_model: EpsModel,
    x0: torch.Tensor,
    mask: torch.Tensor,
    sched: Schedule,
    generator: torch.Generator,
    *,
    jump_length: int = 10,
    resample: int = 1,
) -> torch.Tensor:
    """RePaint inpainting of ``x0[:, mask]`` with jumps of ``jump_length`` states, ``resample`` times."""
    states = repaint_states(sched.T, jump_length=jump_length, resample=resample)
    mask = mask.expand_as(x0)
    return _run_states(eps_model, states, sched, generator, x0_known=x0, mask=mask, shape=tuple(x0.shape))
