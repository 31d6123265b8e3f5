"""Training objectives: what the reverse model minimises, and how its t is drawn. Each is built from
``conf/loss/`` and handed to the process, which computes it (the terms differ between processes) and checks that
it suits the process's parameterisation."""

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import ConfigError
from .timesteps import UniformSampler


@dataclass
class Objective:
    """``t_sampler(T)`` draws each example's t (uniform, or Improved DDPM's importance sampling)."""

    t_sampler: Callable[[int], UniformSampler] = field(default=UniformSampler)
    name = "objective"


@dataclass
class KL(Objective):
    """The variational bound: L_T + T·L_{t−1} with one random t per example, unbiased for the bound."""

    name = "kl"


@dataclass
class MSE(Objective):
    """DDPM's L_simple: the squared error of what the network predicts (ε, x_0 or the mean); trains the mean only."""

    name = "mse"


@dataclass
class Hybrid(Objective):
    """Improved DDPM's L_simple + λ·L_vlb (the mean detached inside L_vlb); for binary data, D3PM's bound +
    λ·cross-entropy on x_0. ``vlb_weight`` is λ."""

    vlb_weight: float = 1e-3
    name = "hybrid"

    def __post_init__(self):
        if not self.vlb_weight > 0:
            raise ConfigError(f"loss.vlb_weight={self.vlb_weight} must be > 0 (λ of L_vlb, which trains the variance); "
                              "e.g. loss.vlb_weight=0.001")
