"""A β schedule learned with the reverse network by gradient on the bound (Sohl-Dickstein et al. 2015, §2.4.1).

β_1 is fixed (small, so that the first step cannot fit the data's thickness); β_2..T follow from the log
signal-to-noise ratio λ_t = log(ᾱ_t/(1−ᾱ_t)), kept strictly decreasing by construction:
λ_t = λ_{t−1} − d_t with d_t = D·sigmoid(u_t) ∈ (0, D) for t = 2..T, so that ᾱ_t = sigmoid(λ_t) decreases and every
β_t = 1 − ᾱ_t/ᾱ_{t−1} lies in (0, 1), also in float64 (D = 20 nats per step keeps β_t ≤ 1 − e^−20). Gaussian diffusion depends on the schedule only through these SNRs
(Kingma et al. 2021), so this is the whole family, with nothing to clip. The u_t start where the ``init``
schedule puts them; the noise of x_t is reparameterised, so the bound is differentiable in u.

``learn_log_snr_end=false`` keeps λ_T (so ᾱ_T and the prior term) where ``init`` puts it and learns only how the
steps share the drop λ_1 − λ_T: d_t = (λ_1 − λ_T)·softmax(u)_t. A network that is still poor early in training pulls a
free end point up (the bound then prefers to keep signal at T); on a thin roll it never came back (docs/results.md).
"""

from collections.abc import Callable

import torch
from torch import nn

from ..errors import ConfigError
from .schedules import check_betas


def log_snr(betas: torch.Tensor) -> torch.Tensor:
    """λ_t = log(ᾱ_t/(1−ᾱ_t)) for t = 1..T, from β_1..β_T (float64)."""
    log_alpha_bar = torch.cumsum(torch.log1p(-betas), 0)
    return log_alpha_bar - torch.log(-torch.expm1(log_alpha_bar))


class LearnedSchedule(nn.Module):
    max_step = 20.0  # D: the most log-SNR one step can remove
    """``betas()`` gives β_1..β_T (float64, differentiable in ``u``); ``initial`` holds the schedule it started
    from. ``beta_1``: the fixed first step (default: ``init``'s own β_1)."""

    def __init__(self, T: int, init: Callable[..., torch.Tensor], beta_1: float | None = None,
                 learn_log_snr_end: bool = True):
        super().__init__()
        betas = check_betas(torch.as_tensor(init(T=T), dtype=torch.float64)).clone()
        if beta_1 is not None:
            if not 0 < beta_1 < 1:
                raise ConfigError(f"schedule.beta_1={beta_1} must lie in (0, 1), e.g. 1e-4")
            betas[0] = beta_1
        lam = log_snr(betas)
        if not (lam[1:] < lam[:-1]).all():
            raise ConfigError("the learned schedule's start loses no signal at some step; choose another "
                              "schedule.init, or a larger schedule.beta_1")
        self.register_buffer("initial", betas, persistent=False)
        self.register_buffer("log_snr_1", lam[:1].clone())
        self.learn_log_snr_end = learn_log_snr_end
        steps = lam[:-1] - lam[1:]
        if learn_log_snr_end and not (steps < self.max_step).all():
            t = int(torch.argmax(steps)) + 2
            raise ConfigError(f"the learned schedule's start removes {float(steps.max()):.3g} nats of log-SNR at step "
                              f"t = {t}, more than the {self.max_step:g} one step can learn; choose a schedule.init "
                              "that ends less abruptly, a larger T, or schedule.learn_log_snr_end=false")
        if learn_log_snr_end:
            self.u = nn.Parameter(torch.logit(steps / self.max_step).float())
        else:
            self.register_buffer("log_snr_drop", lam[0] - lam[-1])
            self.u = nn.Parameter(torch.log(steps / steps.sum()).float())

    @property
    def T(self) -> int:
        return len(self.initial)

    def log_snr(self) -> torch.Tensor:
        """λ_1..λ_T, float64: λ_1 fixed, then decreasing by d_t."""
        return torch.cat([self.log_snr_1, self.log_snr_1 - torch.cumsum(self.steps(), 0)])

    def steps(self) -> torch.Tensor:
        """d_t = λ_{t−1} − λ_t for t = 2..T: in (0, D), or the fixed drop shared by a softmax."""
        if self.learn_log_snr_end:
            return self.max_step * torch.sigmoid(self.u.double())
        return self.log_snr_drop * torch.softmax(self.u.double(), 0)

    def betas(self) -> torch.Tensor:
        """β_1..β_T = 1 − ᾱ_t/ᾱ_{t−1} with ᾱ_t = sigmoid(λ_t), in float64, written without cancelling:
        β_t = (1 − e^−d_t)·sigmoid(−λ_t), a product of two factors in (0, 1); β_1 = sigmoid(−λ_1) is the fixed one."""
        lam = self.log_snr()
        return torch.cat([torch.sigmoid(-lam[:1]), -torch.expm1(-self.steps()) * torch.sigmoid(-lam[1:])])
