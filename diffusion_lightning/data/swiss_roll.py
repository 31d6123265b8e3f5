"""The 2-D Swiss roll of the paper (App. D.1.1), generated in memory, with its exact likelihood.

x = (roll(s) + σ·n − c)/scale with s ~ U(s_min, s_max), roll(s) = (s·cos s, s·sin s), n ~ N(0, I);
c and scale are the generator's own mean and pooled standard deviation (so the data has unit
variance, as in the paper), computed by quadrature, not from a sample.
"""

import functools
import math

import torch

from ..errors import ConfigError
from ..diffusion.losses import LOG2
from .metrics import energy_distance
from .base import InMemoryDataModule, split_sizes


def roll(s: torch.Tensor) -> torch.Tensor:
    return torch.stack([s * torch.cos(s), s * torch.sin(s)], dim=-1)


class SwissRoll:
    """The generator: draws points and gives the true NLL of any point under it."""

    def __init__(self, noise: float = 0.5, s_min: float = 1.5 * math.pi, s_max: float = 4.5 * math.pi):
        if noise <= 0:
            raise ConfigError(f"data.noise={noise} must be > 0 (the roll's thickness); try data.noise=0.5")
        if not s_min < s_max:
            raise ConfigError(f"data.s_min={s_min} must be below data.s_max={s_max}")
        self.noise, self.s_min, self.s_max = noise, s_min, s_max
        # Quadrature nodes over s, dense enough for ~20 nodes across the narrowest width σ/|roll'(s)|.
        n = max(4096, int(20 * (s_max - s_min) * math.hypot(1, s_max) / noise))
        self.s_grid = torch.linspace(s_min, s_max, n, dtype=torch.float64)
        self.log_w = torch.full((n,), -math.log(n - 1), dtype=torch.float64)  # trapezoid weights of U(s_min, s_max)
        self.log_w[[0, -1]] -= math.log(2)
        curve = roll(self.s_grid)
        w = self.log_w.exp()[:, None]
        self.center = (w * curve).sum(0)
        var = (w * (curve - self.center) ** 2).sum(0) + noise**2
        self.scale = float(var.mean().sqrt())

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        s = self.s_min + (self.s_max - self.s_min) * torch.rand(n, generator=generator, dtype=torch.float64)
        x = roll(s) + self.noise * torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return ((x - self.center) / self.scale).float()

    def nll_bits(self, x: torch.Tensor, chunk: int = 1 << 24) -> torch.Tensor:
        """−log2 p(x) per point: log p(x) = 2·log scale + log ∫ p(s)·N(scale·x + c; roll(s), σ²I) ds. The squared
        distance to each node is expanded, −|y − r|²/2σ² = (y·r − |r|²/2 − |y|²/2)/σ², so that its sum over the
        nodes is one matrix product (float64: no cancellation that matters even at σ = 0.02)."""
        y = x.double() * self.scale + self.center
        curve = roll(self.s_grid)
        inv_var = 1 / self.noise**2
        per_node = self.log_w - (curve**2).sum(1) * inv_var / 2
        rows = max(1, chunk // len(self.s_grid))
        log_k = [torch.logsumexp(torch.addmm(per_node, part, curve.T, alpha=inv_var), dim=1)
                 - (part**2).sum(1) * inv_var / 2 for part in y.split(rows)]
        log_p = torch.cat(log_k) - math.log(2 * math.pi * self.noise**2) + 2 * math.log(self.scale)
        return (-log_p / LOG2).float()


class SwissRollDataModule(InMemoryDataModule):
    """Train / val / test splits drawn independently from one seeded generator."""

    shape = (2,)
    kind = "continuous"

    def __init__(self, n_train: int = 100_000, n_val: int = 2000, n_test: int = 10_000, noise: float = 0.5,
                 s_min: float = 1.5 * math.pi, s_max: float = 4.5 * math.pi, batch_size: int = 512,
                 eval_batch_size: int = 10_000, seed: int = 0):
        super().__init__(batch_size, eval_batch_size, seed)
        self.sizes = split_sizes(n_train, n_val, n_test)
        self.generator = SwissRoll(noise, s_min, s_max)

    def make_splits(self) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed)
        return {split: self.generator.sample(n, g) for split, n in self.sizes.items()}

    @functools.cache
    def true_nll_bits(self, split: str) -> float:
        """Mean −log2 p(x) of the split under the generator that made it: the ceiling for the bound."""
        return float(self.generator.nll_bits(self.splits[split]).mean())

    def true_nll_points(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator.nll_bits(x)

    def sample_metrics(self, samples: torch.Tensor, split: str) -> dict[str, float]:
        """Energy distance from samples to as many held-out points, and between two data draws of that size
        (the noise floor: a perfect model scores about the floor, not zero)."""
        n = min(len(samples), len(self.splits[split]))
        return {"energy_distance": energy_distance(samples[:n], self.splits[split][:n]),
                "energy_distance_floor": self._floor(n)}

    @functools.cache
    def _floor(self, n: int) -> float:
        g = torch.Generator().manual_seed(self.seed + 7919)
        return energy_distance(self.generator.sample(n, g), self.generator.sample(n, g))
