"""Toys drawn along curves, whose density is an integral over the curve's parameter, computed by Gauss–Legendre
quadrature in panels twice as long as the noise is wide (to round-off, ends included: panels of 3σ move the NLL by
< 1e-6 bits): FFJORD's moons and two spirals."""

import math

import torch

from .base import Toy, arc_length_edges, component_draw, gauss_legendre, uniform_draw


class Moons(Toy):
    """FFJORD's (scikit-learn's make_moons, noise 0.1, times 2, shifted by (−1, −0.2)): θ ~ U(0, π) on either arm,
    outer 2·(cos θ, sin θ) or inner 2·(1 − cos θ, ½ − sin θ), plus (−1, −0.2) and N(0, 0.2²I).
    p(y) = ½·Σ_arm ∫ (1/π)·N(y; arm(θ), σ²I) dθ."""

    sigma, offset = 0.2, (-1.0, -0.2)

    def __init__(self, panel: float = 2.0):
        """``panel``: the quadrature panels' length along the curve, in units of σ."""
        edges = arc_length_edges(lambda s: torch.full_like(s, 2.0), 0.0, math.pi, panel * self.sigma)
        theta, w = gauss_legendre(edges)
        self.curve = torch.cat([self.arm(theta, 0), self.arm(theta, 1)])  # quadrature nodes on both arms
        self.log_w = (torch.cat([w, w]) / (2 * math.pi)).log()  # ½ per arm, density 1/π over θ
        self.nodes = len(self.curve)
        super().__init__()

    def arm(self, theta: torch.Tensor, which: torch.Tensor | int) -> torch.Tensor:
        outer = torch.stack([theta.cos(), theta.sin()], -1)
        inner = torch.stack([1 - theta.cos(), 0.5 - theta.sin()], -1)
        inner_arm = torch.as_tensor(which, dtype=torch.bool)
        return 2 * torch.where(inner_arm[..., None], inner, outer) + torch.tensor(self.offset, dtype=torch.float64)

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        which = component_draw([0.5, 0.5], n, generator)
        theta = math.pi * uniform_draw(n, generator)
        return self.arm(theta, which) + self.sigma * torch.randn(n, 2, generator=generator, dtype=torch.float64)

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        """−|y − c|²/2σ² = (y·c − |c|²/2 − |y|²/2)/σ², summed over the nodes as one matrix product."""
        inv_var = 1 / self.sigma**2
        per_node = self.log_w - (self.curve**2).sum(1) * inv_var / 2
        log_k = torch.logsumexp(torch.addmm(per_node, y, self.curve.T, alpha=inv_var), dim=1)
        return log_k - (y**2).sum(1) * inv_var / 2 - math.log(2 * math.pi * self.sigma**2)

    def moments(self) -> tuple[torch.Tensor, float]:
        w = self.log_w.exp()[:, None]
        center = (w * self.curve).sum(0)
        return center, float((w * (self.curve - center) ** 2).sum(0).mean()) + self.sigma**2


def ndtr_difference(hi: torch.Tensor, lo: torch.Tensor, log: bool = False) -> torch.Tensor:
    """Φ(hi) − Φ(lo) for hi > lo (or its log), taken on the side of 0 where neither is close to 1, so nothing
    cancels."""
    flip = lo > 0
    hi, lo = torch.where(flip, -lo, hi), torch.where(flip, -hi, lo)
    if not log:  # Φ(x) = erfc(−x/√2)/2, exact in the lower tail (torch.special.ndtr(−10) is 0 in float64)
        return (torch.special.erfc(-hi / math.sqrt(2)) - torch.special.erfc(-lo / math.sqrt(2))) / 2
    log_hi = torch.special.log_ndtr(hi)
    return log_hi + torch.log(-torch.expm1(torch.special.log_ndtr(lo) - log_hi))


class TwoSpirals(Toy):
    """FFJORD's: s = 3π·√U (so p(s) = 2s/(3π)² on [0, 3π]), a point (−s·cos s, s·sin s) + u with u ~ U(0, ½)², on
    either spiral (the point or its negative), divided by 3, plus N(0, 0.1²I). The noise is a box ⊗ Gaussian, whose
    density per coordinate is (Φ(v/σ) − Φ((v − b)/σ))/b with b = ⅙ the box's side: p(y) = ½·(p₊(y) + p₊(−y)),
    p₊(y) = ∫ p(s)·Π_j k(y_j − c_j(s)/3) ds."""

    sigma, turn, side = 0.1, 3 * math.pi, 0.5 / 3

    def __init__(self, panel: float = 2.0):
        """``panel``: the quadrature panels' length along the curve, in units of σ."""
        edges = arc_length_edges(lambda s: (1 + s**2).sqrt() / 3, 0.0, self.turn, panel * self.sigma)
        s, w = gauss_legendre(edges)
        self.curve = self.spiral(s) / 3
        self.log_w = w.log() + (2 * s / self.turn**2).log()
        self.nodes = 4 * len(s)  # two coordinates, at y and at −y
        super().__init__()

    @staticmethod
    def spiral(s: torch.Tensor) -> torch.Tensor:
        return torch.stack([-s * s.cos(), s * s.sin()], -1)

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        s = self.turn * uniform_draw(n, generator).sqrt()
        u = 0.5 * torch.rand(n, 2, generator=generator, dtype=torch.float64)
        sign = 1 - 2 * component_draw([0.5, 0.5], n, generator).double()[:, None]
        return sign * (self.spiral(s) + u) / 3 + self.sigma * torch.randn(n, 2, generator=generator, dtype=torch.float64)

    def log_arm(self, y: torch.Tensor) -> torch.Tensor:
        """log p₊(y): summed in linear space (fast), and in log space for the rare point so far from the spiral
        (≳ 35σ) that every node's kernel underflows."""
        v = (y[:, None, :] - self.curve) / self.sigma  # [n, nodes, 2]
        k = ndtr_difference(v, v - self.side / self.sigma).prod(-1) / self.side**2
        log_p = (k @ self.log_w.exp()).log()
        far = log_p < -600
        if far.any():
            log_k = (ndtr_difference(v[far], v[far] - self.side / self.sigma, log=True) - math.log(self.side)).sum(-1)
            log_p[far] = torch.logsumexp(self.log_w + log_k, dim=1)
        return log_p

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        return torch.logaddexp(self.log_arm(y), self.log_arm(-y)) - math.log(2)

    def moments(self) -> tuple[torch.Tensor, float]:
        """Mean 0 (the spirals are each other's negatives); E|y|² = E|c/3 + b/2|² + 2·b²/12 + 2σ² on one spiral."""
        w = self.log_w.exp()[:, None]
        second = float((w * (self.curve + self.side / 2) ** 2).sum()) + 2 * self.side**2 / 12 + 2 * self.sigma**2
        return torch.zeros(2), second / 2
