"""What every diffusion process shares: the exact bound summed over every t, and ancestral sampling.

A process is a buffer-only module built from β_1..β_T and its training objective (``objectives.py``), which it
checks against its parameterisation and computes. The network is passed in, never owned: ``net(x_t, t)`` with t
an integer tensor in 1..T. Buffers are indexed by t directly (index 0 is t = 0).
"""

from collections.abc import Iterator

import torch
from torch import nn

from ...errors import ConfigError
from ..losses import LOG2
from ..objectives import Objective


def check_choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not known; choose one of {', '.join(allowed)}")


def chunks_of_t(T: int, n: int, max_rows: int = 1 << 16) -> Iterator[torch.Tensor]:
    """t = 1..T in consecutive chunks of at most ``max_rows // n`` steps: every term of ``n`` points over a chunk
    is one batch of at most ``max_rows`` rows (bounded memory whatever T is)."""
    chunk = max(1, max_rows // n)
    for start in range(1, T + 1, chunk):
        yield torch.arange(start, min(start + chunk, T + 1))


class DiffusionProcess(nn.Module):
    """Subclasses set ``kind`` (the data they diffuse: "continuous" or "binary") and define q_sample, prior_term,
    term, p_sample, prior_sample, null_nll, check_loss and losses_at."""

    betas: torch.Tensor
    kind: str
    name: str

    @property
    def T(self) -> int:
        return len(self.betas) - 1

    def check_data(self, data) -> None:
        """Refuse data of another kind than the process diffuses (``data`` is the datamodule, or None)."""
        if data is not None and data.kind != self.kind:
            other = "binomial" if data.kind == "binary" else "gaussian"
            raise ConfigError(f"process={self.name} needs {self.kind} data, and data is {data.kind}; use process={other}")

    def use_loss(self, loss: Objective) -> None:
        """Train by ``loss`` (refused if it does not suit the parameterisation), drawing t by its sampler."""
        self.check_loss(loss)
        self.loss = loss
        self.t_sampler = loss.t_sampler(self.T)

    def training_losses(self, net: nn.Module, x0: torch.Tensor) -> dict[str, torch.Tensor]:
        """The training loss with one t per example drawn by the t-sampler, which then learns from the terms;
        ``loss`` is what to minimise, the other entries are for the loggers."""
        t, weights = self.t_sampler.sample(len(x0), x0.device)
        terms = self.losses_at(net, x0, t, weights)
        self.t_sampler.update(t, terms.pop("term"))
        return terms

    @torch.no_grad()
    def bound(
        self, net: nn.Module, x0: torch.Tensor, generator: torch.Generator | None = None, max_rows: int = 1 << 16
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The negative bound L = L_T + Σ_{t=2..T} L_{t−1} + L_0 in bits, with every t evaluated (not sampled).

        Returns the bound per point (N,) and the mean of each term (T + 1,): index 0 holds the prior
        term L_T, index t the term of step t (t = 1 is the decoder −log p(x_0|x_1)).
        Each term draws one x_t ~ q(x_t|x_0) per point, from ``generator`` when given.
        """
        n = len(x0)
        per_t = torch.zeros(self.T + 1, dtype=torch.float64)
        prior = self.prior_term(x0).double().cpu()
        per_t[0] = prior.mean()
        total = prior.clone()
        for ts in chunks_of_t(self.T, n, max_rows):
            ts = ts.to(x0.device)
            x0_rep = x0.repeat(len(ts), *([1] * (x0.ndim - 1)))
            t_rep = ts.repeat_interleave(n)
            x_t = self.q_sample(x0_rep, t_rep, generator=generator)
            terms = self.term(net(x_t, t_rep), x0_rep, x_t, t_rep).view(len(ts), n).double()
            total += terms.sum(0).cpu()
            per_t[ts.cpu()] = terms.mean(1).cpu()
        return total / LOG2, per_t / LOG2

    @torch.no_grad()
    def sample(
        self, net: nn.Module, shape: tuple[int, ...], record: tuple[int, ...] = (), generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Ancestral sampling x_T ~ p(x_T), x_{t−1} ~ p(x_{t−1}|x_t); also returns x_t at the steps in ``record``."""
        device = self.betas.device
        n = shape[0]
        x = self.prior_sample(shape, generator=generator)
        frames = {}
        for t in range(self.T, 0, -1):
            if t in record:
                frames[t] = x
            t_vec = torch.full((n,), t, device=device, dtype=torch.long)
            x = self.p_sample(net(x, t_vec), x, t_vec, generator=generator)
        frames[0] = x
        return x, frames
