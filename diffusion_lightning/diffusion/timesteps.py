"""Which t each training example uses. A loss whose per-t part ℓ_t is weighted by w_t = 1/(T·p_t) has the expectation
(1/T)·Σ_t ℓ_t, its value under uniform t, for any p_t > 0 (T·w_t·L_{t−1} is the bound's unbiased estimate); a p_t
that follows the size of ℓ_t lowers its variance (Nichol & Dhariwal 2021, Sec. 3.3)."""

import torch
from torch import nn

from ..errors import check_number


class UniformSampler(nn.Module):
    """t ~ U{1..T}, every weight 1."""

    def __init__(self, T: int):
        super().__init__()
        self.T = T

    def sample(self, n: int, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randint(1, self.T + 1, (n,), device=device), torch.ones(n, device=device)

    def update(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        """Uniform sampling learns nothing from the losses."""


class ImportanceSampler(UniformSampler):
    """p_t ∝ √E[ℓ_t²] over the last ``history`` losses ℓ_t seen at each t (mixed with 1% uniform), once every t has
    a full history; uniform until then. The history lives in buffers, so it is checkpointed with the model."""

    def __init__(self, T: int, history: int = 10, uniform_mix: float = 0.01):
        super().__init__(T)
        check_number("loss.t_sampler.history", history, "≥ 1", whole=True)
        check_number("loss.t_sampler.uniform_mix", uniform_mix, "(0, 1]")
        self.uniform_mix = uniform_mix
        self.register_buffer("losses", torch.zeros(T + 1, history))
        self.register_buffer("counts", torch.zeros(T + 1, dtype=torch.long))

    def probabilities(self) -> torch.Tensor | None:
        """p_t for t = 1..T, or None while some t still lacks a full history."""
        if (self.counts[1:] < self.losses.shape[1]).any():
            return None
        p = self.losses[1:].pow(2).mean(1).sqrt()
        p = p / p.sum()
        return (1 - self.uniform_mix) * p + self.uniform_mix / self.T

    def sample(self, n: int, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.probabilities()
        if p is None:
            return super().sample(n, device)
        t = torch.multinomial(p, n, replacement=True) + 1
        return t, 1 / (self.T * p[t - 1])

    def update(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        """Write each example's loss ℓ_t into the ring buffer of its t. A t drawn several times in a batch keeps its
        last example's value, chosen explicitly: an indexed write with repeated indices would be nondeterministic."""
        steps, inverse = torch.unique(t, return_inverse=True)
        position = torch.arange(len(t), device=t.device)
        last = torch.zeros(len(steps), dtype=torch.long, device=t.device).scatter_reduce(0, inverse, position, "amax")
        slot = self.counts[steps] % self.losses.shape[1]
        self.losses[steps, slot] = losses.detach().float()[last]
        self.counts[steps] += 1
