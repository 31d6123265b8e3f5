"""Gaussian diffusion in continuous time, T → ∞ (Kingma et al. 2021, Variational Diffusion Models, "VDM").

q(z_t|x) = N(α_t·x, σ_t²·I) for t ∈ [0, 1], with α_t² = sigmoid(−γ(t)) and σ_t² = sigmoid(γ(t)), where
γ(t) = −log SNR(t) increases from γ_0 to γ_1. The negative bound (VDM Eq. 11, 17), in nats per point, is

    L = KL(q(z_1|x) ‖ N(0, I)) + E[−log p(x|z_0)] + ½·E_{t~U(0,1), ε~N(0,I)}[γ'(t)·‖ε − ε̂(z_t, t)‖²]

with the decoder p(x|z_0) = N(z_0/α_0, e^{γ_0}·I) (the inverse of q(z_0|x)). The prior and decoder terms are exact;
the diffusion term is a Monte-Carlo estimate over t and ε, drawn low-discrepancy (one shifted grid per batch) in
training and stratified (one t in each of ``eval_t`` strata per point) in ``bound``. Sampling walks ``sample_steps``
steps t = i/sample_steps of the ancestral sampler (VDM App. A.4); integer steps i = 0..sample_steps are what the
figures and the networks see (a network is told the time as the float t·sample_steps, so its time embedding keeps the
resolution it has in discrete time).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError
from ..learned_schedule import log_snr
from ..losses import LOG2, normal_kl, normal_nll
from ..objectives import KL, Objective
from ..schedules import check_betas
from .base import DiffusionProcess, forward_in_batches


def _col(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-example value shaped to broadcast against ``like``."""
    return v.view(-1, *([1] * (like.ndim - 1)))


class LogSNRSchedule(nn.Module):
    """γ(t) = γ_0 + (γ_1 − γ_0)·t, linear in t (VDM's 2-D example) between two learned end points, kept monotone by
    construction: γ_1 = γ_0 + softplus(w). Only the end points change the bound in continuous time (VDM Eq. 15).
    ``betas()`` and ``initial`` give the chain of the sampler's ``steps`` steps (ᾱ_i = sigmoid(−γ(i/steps)), ᾱ_0 = 1
    for the data), so the learned schedule is drawn like a discrete one."""

    def __init__(self, gamma_0: float, gamma_1: float, steps: int):
        super().__init__()
        self.steps = steps
        self.gamma_0 = nn.Parameter(torch.tensor(float(gamma_0)))
        self.width = nn.Parameter(torch.tensor(math.log(math.expm1(gamma_1 - gamma_0))))  # softplus⁻¹(γ_1 − γ_0)
        self.register_buffer("initial_ends", torch.tensor([gamma_0, gamma_1], dtype=torch.float64), persistent=False)

    def ends(self) -> tuple[torch.Tensor, torch.Tensor]:
        """γ_0 and γ_1."""
        return self.gamma_0, self.gamma_0 + F.softplus(self.width)

    def forward(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """γ(t) and γ'(t) for t in [0, 1]."""
        slope = F.softplus(self.width)
        return self.gamma_0 + slope * t, slope.expand_as(t)

    def _betas(self, g0: torch.Tensor, g1: torch.Tensor) -> torch.Tensor:
        gamma = g0.double() + (g1.double() - g0.double()) * torch.arange(1, self.steps + 1, dtype=torch.float64) / self.steps
        log_alpha_bar = F.pad(F.logsigmoid(-gamma), (1, 0))
        return -torch.expm1(log_alpha_bar[1:] - log_alpha_bar[:-1])

    def betas(self) -> torch.Tensor:
        return self._betas(*self.ends())

    @property
    def initial(self) -> torch.Tensor:
        return self._betas(*self.initial_ends)


class ContinuousGaussianDiffusion(DiffusionProcess):
    """``betas``: the discrete schedule whose first and last log-SNR start the learned end points (unless
    ``gamma_0``/``gamma_1`` are given); ``sample_steps``: steps of the sampler (and the figures' time axis);
    ``eval_t``: stratified draws of t per point in ``bound``."""

    kind, name = "continuous", "gaussian_continuous"

    def __init__(self, betas: torch.Tensor, loss: Objective | None = None, data=None, sample_steps: int = 100,
                 eval_t: int = 100, gamma_0: float | None = None, gamma_1: float | None = None):
        super().__init__()
        self.check_data(data)
        if isinstance(betas, nn.Module):
            raise ConfigError("schedule=learned is the discrete chain's; process=gaussian_continuous learns its own "
                              "log-SNR end points, started from a fixed schedule: use schedule=linear")
        for key, value in (("process.sample_steps", sample_steps), ("process.eval_t", eval_t)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{key}={value} must be a whole number ≥ 1, e.g. {key}=100")
        lam = log_snr(check_betas(torch.as_tensor(betas, dtype=torch.float64)))
        gamma_0 = float(-lam[0]) if gamma_0 is None else float(gamma_0)
        gamma_1 = float(-lam[-1]) if gamma_1 is None else float(gamma_1)
        if not gamma_0 < gamma_1:
            raise ConfigError(f"process.gamma_0={gamma_0:.3g} must lie below process.gamma_1={gamma_1:.3g} "
                              "(−log SNR rises from data to noise), e.g. process.gamma_0=-13.3 process.gamma_1=5")
        self.sample_steps, self.eval_t = sample_steps, eval_t
        self.schedule = LogSNRSchedule(gamma_0, gamma_1, sample_steps)
        self.use_loss(KL() if loss is None else loss)

    @property
    def T(self) -> int:
        """The sampler's number of steps: networks and figures see integer steps 0..T, step i being t = i/T."""
        return self.sample_steps

    def use_loss(self, loss: Objective) -> None:
        """Train by the continuous bound; t is drawn low-discrepancy in continuous time, so ``loss.t_sampler``
        (a sampler over integer steps) has no part here."""
        self.check_loss(loss)
        self.loss = loss

    def check_loss(self, loss: Objective) -> None:
        if not isinstance(loss, KL):
            raise ConfigError(f"process=gaussian_continuous trains by its continuous-time bound, whose weight γ'(t) "
                              f"also learns the schedule's end points; loss={loss.name} has none: use loss=kl")

    def out_dim(self, dim: int) -> int:
        """The network predicts ε."""
        return dim

    def _time(self, t: torch.Tensor) -> torch.Tensor:
        """t in [0, 1]: a float as it is, an integer step i as i/T."""
        return t if t.is_floating_point() else t.double().div(self.T).float()

    def alpha_sigma(self, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """α_t, σ_t (shaped like ``like``) and γ'(t) at the times ``t``."""
        gamma, dgamma = self.schedule(self._time(t))
        return _col(torch.sigmoid(-gamma).sqrt(), like), _col(torch.sigmoid(gamma).sqrt(), like), dgamma

    @torch.no_grad()
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """z_t = α_t·x_0 + σ_t·ε, a draw from q(z_t|x_0) (for figures: training draws inside ``diffusion_term``,
        where the schedule's gradient flows); t in [0, 1] or an integer step."""
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        alpha, sigma, _ = self.alpha_sigma(t, x0)
        return alpha * x0 + sigma * noise

    def predict_eps(self, net: nn.Module, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """ε̂(z_t, t); the network is told the time t·T on its axis of steps."""
        return forward_in_batches(net, z, t * self.T).view_as(z)

    def prior_term(self, x0: torch.Tensor) -> torch.Tensor:
        """KL(q(z_1|x) ‖ N(0, I)) in nats per point."""
        gamma_1 = self.schedule.ends()[1]
        mean = torch.sigmoid(-gamma_1).sqrt() * x0
        logvar = F.logsigmoid(gamma_1).expand_as(x0)
        return normal_kl(mean, logvar, torch.zeros_like(x0), torch.zeros_like(x0)).flatten(1).sum(1)

    def decoder_term(self, x0: torch.Tensor) -> torch.Tensor:
        """E_{z_0~q}[−log N(x; z_0/α_0, e^{γ_0})] = d/2·(log 2π + γ_0 + 1) in nats per point, exactly."""
        d = x0[0].numel()
        return (0.5 * d * (math.log(2 * math.pi) + self.schedule.ends()[0] + 1)).expand(len(x0))

    def diffusion_term(self, net: nn.Module, x0: torch.Tensor, t: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """½·γ'(t)·(‖ε − ε̂(z_t, t)‖² − α_t⁴·(‖ε‖² − d)) in nats per point at the times ``t`` (one ε each): unbiased
        for the diffusion term when t ~ U(0, 1). The control variate ‖ε‖² − d has mean zero; its weight α_t⁴ (the
        best one for Gaussian data) → 1 where the noise is too small to be predicted and ε̂ ≈ 0, which removes the
        χ²-spread of ‖ε‖² there: 2 bits per point for N(0, I) data with γ_0 = −13.3, without it."""
        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        alpha, sigma, dgamma = self.alpha_sigma(t, x0)
        eps_hat = self.predict_eps(net, alpha * x0 + sigma * eps, t)
        weight = alpha.detach().flatten(1)[:, 0] ** 4
        sq = eps.pow(2).flatten(1).sum(1)
        return 0.5 * dgamma * ((eps - eps_hat).pow(2).flatten(1).sum(1) - weight * (sq - x0.shape[1:].numel()))

    def training_losses(self, net: nn.Module, x0: torch.Tensor) -> dict[str, torch.Tensor]:
        """L_prior + L_decoder + the diffusion term at low-discrepancy t (VDM: t_i = (u + i/n) mod 1, one u per
        batch): each t_i is uniform, so the estimate is unbiased, and the batch covers [0, 1] evenly."""
        n = len(x0)
        u = torch.rand((), device=x0.device)
        t = torch.remainder(u + torch.arange(n, device=x0.device) / n, 1.0)
        diffusion = self.diffusion_term(net, x0, t)
        prior, decoder = self.prior_term(x0), self.decoder_term(x0)
        vlb = prior + decoder + diffusion
        g0, g1 = self.schedule.ends()
        return {"loss": vlb.mean(), "bound_bits": vlb.detach().mean() / LOG2,
                "diffusion_bits": diffusion.detach().mean() / LOG2, "gamma_0": g0.detach(), "gamma_1": g1.detach()}

    @torch.no_grad()
    def bound(self, net: nn.Module, x0: torch.Tensor, generator: torch.Generator | None = None,
              max_rows: int = 1 << 16, strata: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The negative bound in bits per point, with the diffusion term averaged over ``eval_t`` stratified t per
        point (t uniform in ((i−1)/K, i/K], i = 1..K), so each point's estimate is unbiased and its spread, part
        of the standard error over points, includes the Monte-Carlo error. Always this estimate, of fixed cost:
        ``strata`` (the discrete processes' estimate, see ``DiffusionProcess.bound``) changes nothing here.

        Returns the bound per point (N,) and the mean of each part (K + 1,): index 0 the prior term, index i the
        diffusion term over stratum i, the exact decoder term added at i = 1 (as −log p(x_0|x_1) in discrete time).
        """
        n, K = len(x0), self.eval_t
        prior = self.prior_term(x0).double().cpu()
        per_t = torch.zeros(K + 1, dtype=torch.float64)
        per_t[0] = prior.mean()
        per_t[1] = self.decoder_term(x0[:1]).double().cpu()[0]
        total = prior + self.decoder_term(x0).double().cpu()
        chunk = max(1, max_rows // n)
        for start in range(1, K + 1, chunk):
            strata = torch.arange(start, min(start + chunk, K + 1), device=x0.device)
            u = torch.rand((len(strata), n), generator=generator, device=x0.device)
            t = ((strata[:, None] - u) / K).flatten()
            x0_rep = x0.repeat(len(strata), *([1] * (x0.ndim - 1)))
            terms = (self.diffusion_term(net, x0_rep, t, generator=generator) / K).view(len(strata), n).double().cpu()
            total += terms.sum(0)
            per_t[strata.cpu()] += terms.mean(1)
        return total / LOG2, per_t / LOG2

    @torch.no_grad()
    def sample(self, net: nn.Module, shape: tuple[int, ...], record: tuple[int, ...] = (),
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Ancestral sampling over steps i = T..1 (t = i/T to s = (i−1)/T): z_s ~ q(z_s|z_t, x = x̂(z_t))
        (VDM App. A.4), then x ~ p(x|z_0). Also returns z at the steps in ``record`` (step 0: the sample x)."""
        device = self.schedule.gamma_0.device
        n, T = shape[0], self.T
        z = torch.randn(shape, generator=generator, device=device)
        frames = {}
        for i in range(T, 0, -1):
            if i in record:
                frames[i] = z
            t = torch.full((n,), i / T, device=device)
            gamma_t, _ = self.schedule(t)
            gamma_s, _ = self.schedule(t - 1 / T)
            eps_hat = self.predict_eps(net, z, t)
            c = _col(-torch.expm1(gamma_s - gamma_t), z)  # 1 − SNR(t)/SNR(s)
            mean = _col((torch.sigmoid(-gamma_s) / torch.sigmoid(-gamma_t)).sqrt(), z) * (
                z - c * _col(torch.sigmoid(gamma_t).sqrt(), z) * eps_hat)
            noise = torch.randn(shape, generator=generator, device=device)
            z = mean + (c * _col(torch.sigmoid(gamma_s), z)).sqrt() * noise
        gamma_0 = self.schedule.ends()[0]
        noise = torch.randn(shape, generator=generator, device=device)
        x = z / torch.sigmoid(-gamma_0).sqrt() + torch.exp(0.5 * gamma_0) * noise
        frames[0] = x
        return x, frames

    def null_nll(self, x0: torch.Tensor) -> torch.Tensor:
        """−log N(x_0; 0, I) in nats per point: the paper's L_null."""
        return normal_nll(x0, torch.zeros_like(x0), torch.zeros_like(x0)).flatten(1).sum(1)
