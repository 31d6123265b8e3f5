"""What every toy distribution is: a seeded sampler and an exact log-density in its own coordinates y, served as the
Swiss roll is, centred and scaled by its own mean and pooled standard deviation, x = (y − c)/scale, so that every toy
has unit variance and the default recipe suits it. The true NLL of x is −log₂ p(y) − d·log₂ scale."""

import math

import numpy as np
import torch

from ...diffusion.losses import LOG2


class Toy:
    """Subclasses set their parameters, then call ``super().__init__()``, and give ``draw`` (points in y),
    ``log_density`` (natural log of p(y), float64) and ``moments`` (the exact mean of y and its variance pooled over
    coordinates). ``nodes`` is the number of quadrature nodes a point's density sums over (1: closed form), which
    sizes the batches ``nll_bits`` evaluates."""

    dim = 2
    nodes = 1

    def __init__(self):
        center, variance = self.moments()
        self.center, self.scale = center.double(), math.sqrt(variance)

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def moments(self) -> tuple[torch.Tensor, float]:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n points x, float32, seeded by ``generator``."""
        return ((self.draw(n, generator) - self.center) / self.scale).float()

    def nll_bits(self, x: torch.Tensor, chunk: int = 1 << 22) -> torch.Tensor:
        """−log₂ p(x) per point, in batches of about ``chunk`` point-node pairs."""
        y = x.double() * self.scale + self.center
        rows = max(1, chunk // self.nodes)
        log_p = torch.cat([self.log_density(part) for part in y.split(rows)]) + self.dim * math.log(self.scale)
        return (-log_p / LOG2).float()


def uniform_draw(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator, dtype=torch.float64)


def component_draw(weights: list[float], n: int, generator: torch.Generator) -> torch.Tensor:
    """Which component each of n points comes from, with probabilities ``weights``."""
    return torch.multinomial(torch.tensor(weights, dtype=torch.float64), n, replacement=True, generator=generator)


def gauss_legendre(edges: torch.Tensor, order: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights of composite Gauss–Legendre quadrature over the panels between consecutive ``edges``:
    exact for polynomials of degree 2·order − 1 on each panel, so a panel as long as the kernel is wide integrates
    a smooth integrand to round-off, ends included (the trapezoid rule loses O(h²) at the ends)."""
    x, w = (torch.from_numpy(a) for a in np.polynomial.legendre.leggauss(order))
    lo, hi = edges[:-1, None].double(), edges[1:, None].double()
    return ((lo + hi) / 2 + (hi - lo) / 2 * x).flatten(), ((hi - lo) / 2 * w).flatten()


def arc_length_edges(speed, s_min: float, s_max: float, step: float) -> torch.Tensor:
    """Panel edges over [s_min, s_max] that cut a curve of ``speed(s)`` = |curve'(s)| into arcs of length ≤ ``step``:
    the quadrature then follows a kernel of width ~``step`` wherever the curve is fast or slow."""
    s = torch.linspace(s_min, s_max, 100_001, dtype=torch.float64)
    v = speed(s)
    length = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum((v[1:] + v[:-1]) / 2 * s.diff(), 0)])
    n = max(1, math.ceil(float(length[-1]) / step))
    targets = torch.linspace(0, float(length[-1]), n + 1, dtype=torch.float64)
    return torch.from_numpy(np.interp(targets.numpy(), length.numpy(), s.numpy()))
