"""Toys whose density is in closed form without being a Gaussian mixture: the checkerboard (uniform squares), circles
and rings (noisy circles: a Bessel function), and a pinwheel whose arms turn with the radius."""

import math

import torch

from .base import Toy, component_draw, uniform_draw

LOG_2PI = math.log(2 * math.pi)


class Checkerboard(Toy):
    """FFJORD's: uniform over the 8 squares of side 2 in [−4, 4]² whose corner indices ⌊y₁/2⌋ + ⌊y₂/2⌋ are even,
    p(y) = 1/32 there and 0 elsewhere."""

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        x1 = 4 * uniform_draw(n, generator) - 2
        x2 = uniform_draw(n, generator) - 2 * torch.randint(2, (n,), generator=generator) + torch.floor(x1) % 2
        return 2 * torch.stack([x1, x2], 1)

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        inside = ((y >= -4) & (y < 4)).all(1) & (torch.floor(y / 2).sum(1) % 2 == 0)
        return torch.where(inside, -math.log(32), -math.inf).double()

    def moments(self) -> tuple[torch.Tensor, float]:
        return torch.zeros(2), 64 / 12  # each coordinate is uniform over [−4, 4]


class Rings(Toy):
    """Circles of radii r_k with weights w_k, the angle uniform, plus N(0, σ²I): each ring's density is
    exp(−(|y| − r)²/2σ²)·I₀e(r|y|/σ²)/(2πσ²), I₀e the exponentially scaled Bessel function."""

    def __init__(self, radii: list[float], sigma: float, weights: list[float] | None = None):
        self.radii = torch.tensor(radii, dtype=torch.float64)
        self.weights = torch.tensor(weights or [1 / len(radii)] * len(radii), dtype=torch.float64)
        self.sigma = sigma
        super().__init__()

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        r = self.radii[component_draw(self.weights.tolist(), n, generator)]
        angle = 2 * math.pi * uniform_draw(n, generator)
        ring = r[:, None] * torch.stack([angle.cos(), angle.sin()], 1)
        return ring + self.sigma * torch.randn(n, 2, generator=generator, dtype=torch.float64)

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        rho = y.norm(dim=1, keepdim=True)
        s2 = self.sigma**2
        per_ring = self.weights.log() - (rho - self.radii) ** 2 / (2 * s2) + torch.special.i0e(self.radii * rho / s2).log()
        return torch.logsumexp(per_ring, dim=1) - LOG_2PI - math.log(s2)

    def moments(self) -> tuple[torch.Tensor, float]:
        return torch.zeros(2), float((self.weights * self.radii**2).sum()) / 2 + self.sigma**2


def circles() -> Rings:
    """FFJORD's (scikit-learn's make_circles, factor 0.5, noise 0.08, times 3): radii 3 and 1.5, σ = 0.24."""
    return Rings([3.0, 1.5], 0.24)


def rings() -> Rings:
    """FFJORD's: radii 3·(1.2, 0.9, 0.55, 0.25), equally likely, σ = 0.08."""
    return Rings([3.6, 2.7, 1.65, 0.75], 0.08)


class Pinwheel(Toy):
    """FFJORD's pinwheel with one change that makes its density exact. There, f ~ N((1, 0), diag(0.3², 0.1²)) is
    rotated by 2πk/5 + 0.25·exp(f₁), a function of the first feature, which folds the plane (no tractable density).
    Here the angle is 2πk/5 + 0.25·exp(|f|), a function of the radius: a rotation by an angle that depends on the
    radius alone keeps areas, so p(y) = (1/5)·Σ_k N(R(a_k)·y/2; μ, Σ)/4, a_k = 2πk/5 + 0.25·exp(|y|/2), y = 2·R(−a)f.
    Since f₂ is small, |f| ≈ f₁ and the arms look as FFJORD's do."""

    arms, rate, mean, std = 5, 0.25, (1.0, 0.0), (0.3, 0.1)

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        k = torch.randint(self.arms, (n,), generator=generator)
        f = (torch.tensor(self.mean, dtype=torch.float64)
             + torch.tensor(self.std, dtype=torch.float64) * torch.randn(n, 2, generator=generator, dtype=torch.float64))
        a = 2 * math.pi * k / self.arms + self.rate * f.norm(dim=1).exp()
        return 2 * torch.stack([f[:, 0] * a.cos() + f[:, 1] * a.sin(), -f[:, 0] * a.sin() + f[:, 1] * a.cos()], 1)

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        v = y[:, None, :] / 2  # [n, 1, 2]
        a = 2 * math.pi * torch.arange(self.arms, dtype=torch.float64) / self.arms + self.rate * v.norm(dim=2).exp()
        f = torch.stack([v[..., 0] * a.cos() - v[..., 1] * a.sin(), v[..., 0] * a.sin() + v[..., 1] * a.cos()], -1)
        mean, std = torch.tensor(self.mean, dtype=torch.float64), torch.tensor(self.std, dtype=torch.float64)
        log_n = (-((f - mean) / std) ** 2 / 2 - std.log() - LOG_2PI / 2).sum(-1)
        return torch.logsumexp(log_n, dim=1) - math.log(self.arms) - math.log(4)

    def moments(self) -> tuple[torch.Tensor, float]:
        second = sum(m**2 + s**2 for m, s in zip(self.mean, self.std))  # E|f|², and |y| = 2|f|
        return torch.zeros(2), 4 * second / 2
