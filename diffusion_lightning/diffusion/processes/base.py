"""What every diffusion process shares: the bound summed over every t (or its stratified estimate), and ancestral
sampling.

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


def forward_in_batches(net: nn.Module, x: torch.Tensor, t: torch.Tensor, rows: int = 1 << 13) -> torch.Tensor:
    """net(x, t), on the CPU ``rows`` rows at a time: the same outputs, from batches whose activations stay in the
    cache (the default MLP ran batches of 6·10^4 rows 2.2× slower than batches of 8192). Other devices take the
    whole batch at once."""
    if x.device.type != "cpu" or len(x) <= rows:
        return net(x, t)
    return torch.cat([net(x_part, t_part) for x_part, t_part in zip(x.split(rows), t.split(rows))])


def strata_edges(T: int, K: int) -> torch.Tensor:
    """0 = e_0 < e_1 < … < e_K = T: stratum k holds t = e_{k−1} + 1 .. e_k. The strata widen geometrically
    (e_k ≈ T^{k/K}): one step each where t is small, where the terms are large and change fast (t = 1 is the decoder
    term), wide where they are small and flat."""
    if K < 2 < T:
        raise ConfigError(f"val_strata={K} cannot hold t = 1 alone and the rest of 1..{T}: give at least 2")
    edges = [0, 1]
    for k in range(2, K + 1):
        edges.append(min(max(round(T ** (k / K)), edges[-1] + 1), T - (K - k)))
    return torch.tensor(edges)


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
        """The training loss with one t per example drawn by the t-sampler, which then learns from each example's
        loss at its t; ``loss`` is what to minimise, the other entries are for the loggers."""
        t, weights = self.t_sampler.sample(len(x0), x0.device)
        terms = self.losses_at(net, x0, t, weights)
        self.t_sampler.update(t, terms.pop("t_loss"))
        return terms

    @torch.no_grad()
    def bound(
        self, net: nn.Module, x0: torch.Tensor, generator: torch.Generator | None = None, max_rows: int = 1 << 16,
        strata: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The negative bound L = L_T + Σ_{t=2..T} L_{t−1} + L_0 in bits: exact, with every t evaluated, unless
        ``strata`` = K < T (K ≥ 2). Then it is an unbiased stratified estimate at the cost of K terms whatever T is:
        1..T is split into K consecutive strata (``strata_edges``: t = 1 alone, then widening geometrically) and
        each point draws one t uniformly in each stratum, its term weighted by the stratum's size. Each point's
        estimate is unbiased, so the spread over points (and the standard error over them) includes the Monte-Carlo
        error (measured at T = 100 after 800 steps, the mean over 2000 points varies between draws by 0.075 bits,
        against 0.114 with equal strata and 0.036 for the exact bound's own draws of x_t).

        Returns the bound per point (N,) and the mean of each term (T + 1,): index 0 holds the prior
        term L_T, index t the term of step t (t = 1 is the decoder −log p(x_0|x_1)); in an estimate every t of a
        stratum holds the stratum's mean term, so that the terms still sum to the mean bound.
        Each term draws one x_t ~ q(x_t|x_0) per point (and an estimate its t first), from ``generator`` when given.
        """
        n, T = len(x0), self.T
        K = T if strata is None else min(strata, T)
        edges = strata_edges(T, K)  # stratum k holds t = edges[k−1] + 1 .. edges[k]
        sizes = edges.diff().double()
        per_stratum = torch.zeros(K, dtype=torch.float64)
        prior = self.prior_term(x0).double().cpu()
        total = prior.clone()
        for ks in chunks_of_t(K, n, max_rows):
            x0_rep = x0.repeat(len(ks), *([1] * (x0.ndim - 1)))
            if K == T:  # every t, the same for every point
                t = ks.repeat_interleave(n).to(x0.device)
            else:
                u = torch.rand((len(ks), n), generator=generator, device=x0.device, dtype=torch.float64)
                low, size = edges[ks - 1].to(x0.device), sizes[ks - 1].to(x0.device)
                t = (low[:, None] + 1 + (u * size[:, None]).long()).flatten()
            x_t = self.q_sample(x0_rep, t, generator=generator)
            terms = self.term(forward_in_batches(net, x_t, t), x0_rep, x_t, t).view(len(ks), n).double().cpu()
            total += (terms * sizes[ks - 1, None]).sum(0)
            per_stratum[ks - 1] = terms.mean(1)
        per_t = torch.cat([prior.mean().view(1), per_stratum.repeat_interleave(edges.diff())])
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
