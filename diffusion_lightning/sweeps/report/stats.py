"""Statistics over seeds, without scipy: mean ± std, a Student-t 95% interval, and paired differences."""

import math
from dataclasses import dataclass


def t_two_sided_probability(t: float, df: int) -> float:
    """P(|T| ≤ t) for Student's t with ``df`` degrees of freedom, in closed form (Abramowitz & Stegun 26.7.3–4)."""
    theta = math.atan(t / math.sqrt(df))
    cos2, total = math.cos(theta) ** 2, 0.0
    if df % 2:  # odd ν: (2/π)[θ + sinθ (cosθ + (2/3)cos³θ + … + (2·4⋯(ν−3))/(1·3⋯(ν−2)) cos^(ν−2)θ)]
        term = math.cos(theta)
        for k in range(1, (df - 1) // 2 + 1):
            total += term
            term *= cos2 * 2 * k / (2 * k + 1)
        return 2 / math.pi * (theta + math.sin(theta) * total)
    # even ν: sinθ (1 + (1/2)cos²θ + (1·3)/(2·4)cos⁴θ + … + (1·3⋯(ν−3))/(2·4⋯(ν−2)) cos^(ν−2)θ)
    term = 1.0
    for k in range(1, df // 2 + 1):
        total += term
        term *= cos2 * (2 * k - 1) / (2 * k)
    return math.sin(theta) * total


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t (the half-width factor of a two-sided 95% interval), by bisection."""
    low, high = 0.0, 1e3
    while high - low > 1e-10:
        mid = (low + high) / 2
        low, high = (mid, high) if t_two_sided_probability(mid, df) < 0.95 else (low, mid)
    return (low + high) / 2


@dataclass
class Estimate:
    """Mean of ``n`` values with their sample standard deviation and the half-width of the Student-t 95% interval
    for the mean (both None when n < 2: one run says nothing about the spread)."""

    n: int
    mean: float | None
    std: float | None
    ci95: float | None

    @classmethod
    def of(cls, values: list[float]) -> "Estimate":
        n = len(values)
        mean = sum(values) / n if n else None
        if n < 2:
            return cls(n, mean, None, None)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        return cls(n, mean, std, t_quantile_975(n - 1) * std / math.sqrt(n))

    @property
    def distinguishable(self) -> bool | None:
        """For a difference: its 95% interval excludes 0 (a paired t-test at 5%); None when n < 2 cannot tell."""
        return None if self.ci95 is None else abs(self.mean) > self.ci95


def paired(values: dict, reference: dict) -> Estimate:
    """The difference ``values − reference`` over the keys (e.g. seeds) both have."""
    return Estimate.of([values[k] - reference[k] for k in values if k in reference])
