"""Gaussian mixtures, whose density is in closed form: FFJORD's 8 Gaussians, and a mixture in any dimension d."""

import math

import torch

from .base import Toy, component_draw


class GaussianMixture(Toy):
    """Equal-weight isotropic components N(μ_k, σ²I): p(y) = (1/K)·Σ_k N(y; μ_k, σ²I)."""

    def __init__(self, means: torch.Tensor, sigma: float):
        self.means, self.sigma = means.double(), sigma
        self.dim = means.shape[1]
        super().__init__()

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        k = component_draw([1.0] * len(self.means), n, generator)
        return self.means[k] + self.sigma * torch.randn(n, self.dim, generator=generator, dtype=torch.float64)

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        sq = torch.cdist(y, self.means) ** 2
        return (torch.logsumexp(-sq / (2 * self.sigma**2), dim=1) - math.log(len(self.means))
                - self.dim / 2 * math.log(2 * math.pi * self.sigma**2))

    def moments(self) -> tuple[torch.Tensor, float]:
        center = self.means.mean(0)
        return center, float(((self.means - center) ** 2).mean()) + self.sigma**2


def eight_gaussians() -> GaussianMixture:
    """FFJORD's: centres on a circle of radius 2√2 at angles kπ/4, σ = 1/(2√2) (its 4·(cos, sin) + N(0, 0.5²),
    divided by √2)."""
    angles = torch.arange(8, dtype=torch.float64) * math.pi / 4
    return GaussianMixture(2 * math.sqrt(2) * torch.stack([angles.cos(), angles.sin()], 1), 1 / (2 * math.sqrt(2)))


def mixture(dim: int) -> GaussianMixture:
    """2d components at ±2·e_i, i = 1..d, σ = 0.5: separated modes in any dimension (d = 1: two Gaussians at ±2)."""
    eye = torch.eye(dim, dtype=torch.float64)
    return GaussianMixture(2 * torch.cat([eye, -eye]), 0.5)
