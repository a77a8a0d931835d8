"""Toy 5-D DDPM (Ho et al. 2020, "Denoising Diffusion Probabilistic Models").

Data: 5 floats around one of two cluster centres, -1 or +1 in every dim (the same sign in all
dims), Gaussian noise sd 0.2. Model: an MLP noise predictor with a sinusoidal time embedding.
Schedule: linear betas. Training is deterministic from ``ToyConfig.seed`` and cached on disk under a
hash of the config, so repeated runs load instead of retraining.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

CACHE_ENV = "EDITBENCH_CACHE"


@dataclass(frozen=True)
class ToyConfig:
    dim: int = 5                  # data dimensions
    centre: float = 1.0           # cluster centres at -centre and +centre in every dim
    noise_sd: float = 0.2         # sd of the data around its centre
    timesteps: int = 250          # T, number of diffusion steps
    beta_start: float = 4e-4      # linear schedule; 1e-4..0.02 at T=1000, rescaled by 1000/T
    beta_end: float = 0.08
    hidden: int = 128             # MLP width
    time_dim: int = 32            # sinusoidal time-embedding width
    train_steps: int = 3000       # Adam steps
    batch_size: int = 512
    lr: float = 2e-3
    seed: int = 0                 # training seed: same config -> same weights

    def digest(self) -> str:
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def sample_data(n: int, *, config: ToyConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` samples. Returns ``x0`` of shape (n, dim) and ``labels`` of shape (n,) in {-1, +1}."""
    labels = torch.randint(0, 2, (n,), generator=generator).float() * 2 - 1
    noise = torch.randn(n, config.dim, generator=generator)
    return labels[:, None] * config.centre + config.noise_sd * noise, labels


class Schedule:
    """Linear-beta DDPM schedule over states s = 0..T (s = 0 is clean data).

    Index ``s`` of ``betas``, ``alphas`` and ``alpha_bars`` refers to the step from state s-1 to s;
    entry 0 is a placeholder (beta_0 = 0, alpha_bar_0 = 1).
    """

    def __init__(self, betas: torch.Tensor, model_t: torch.Tensor | None = None):
        self.betas = torch.cat([torch.zeros(1, dtype=torch.float64), betas.to(torch.float64)])
        self.alphas = 1.0 - self.betas
        self.alpha_bars = torch.cumprod(self.alphas, 0)
        # Timestep fed to the model for state s (differs from s for a respaced schedule).
        self.model_t = model_t if model_t is not None else torch.arange(len(self.betas))

    @property
    def T(self) -> int:
        return len(self.betas) - 1

    @classmethod
    def linear(cls, config: ToyConfig) -> "Schedule":
        return cls(torch.linspace(config.beta_start, config.beta_end, config.timesteps, dtype=torch.float64))

    def respaced(self, steps: int) -> "Schedule":
        """A shorter schedule over ``steps`` evenly spaced states with the same alpha_bars there
        (Nichol & Dhariwal 2021, "Improved DDPM", section 4). The model still sees original timesteps."""
        if not 1 <= steps <= self.T:
            raise ValueError(f"steps must be in 1..{self.T}, got {steps}")
        keep = torch.linspace(0, self.T, steps + 1).round().long()
        abar = self.alpha_bars[keep]
        betas = 1.0 - abar[1:] / abar[:-1]
        return Schedule(betas, model_t=keep)


def timestep_embedding(t: torch.Tensor, dim: int, *, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps ``t`` (shape (B,)) -> (B, dim) (Vaswani et al. 2017)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class NoisePredictor(nn.Module):
    """eps_theta(x_t, t): MLP over [x_t, embed(t)] -> predicted noise, shape (B, dim)."""

    def __init__(self, config: ToyConfig):
        super().__init__()
        self.time_dim = config.time_dim
        self.time_mlp = nn.Sequential(nn.Linear(config.time_dim, config.hidden), nn.SiLU())
        self.inp = nn.Linear(config.dim, config.hidden)
        self.body = nn.Sequential(
            nn.SiLU(), nn.Linear(config.hidden, config.hidden),
            nn.SiLU(), nn.Linear(config.hidden, config.hidden),
            nn.SiLU(), nn.Linear(config.hidden, config.dim),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        return self.body(self.inp(x) + self.time_mlp(timestep_embedding(t, self.time_dim)))


def train(config: ToyConfig) -> NoisePredictor:
    """Train the noise predictor with the simple DDPM loss ||eps - eps_theta(x_t, t)||^2.

    Deterministic for a given config on CPU (fixed seeds, one intra-op thread during training).
    """
    g = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    model = NoisePredictor(config)
    sched = Schedule.linear(config)
    abar = sched.alpha_bars.float()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    lr_decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.train_steps)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(config.train_steps):
            x0, _ = sample_data(config.batch_size, config=config, generator=g)
            t = torch.randint(1, sched.T + 1, (config.batch_size,), generator=g)
            eps = torch.randn(x0.shape, generator=g)
            a = abar[t][:, None]
            xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
            loss = ((model(xt, t) - eps) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            lr_decay.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "editbench")


def load_or_train(config: ToyConfig, *, directory: Path | None = None) -> NoisePredictor:
    """Load the trained model for ``config`` from the cache, training (once, under a file lock) if absent."""
    directory = Path(directory or cache_dir()) / "toy"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"toy-ddpm-{config.digest()}.pt"
    with open(directory / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent actors: one trains, the others wait then load
        if not path.exists():
            model = train(config)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            torch.save({"config": dataclasses.asdict(config), "state_dict": model.state_dict()}, tmp)
            os.replace(tmp, path)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = NoisePredictor(config)
    model.load_state_dict(blob["state_dict"])
    return model.eval()
