"""Gaussian diffusion q(x_t|x_{t−1}) = N(√(1−β_t)·x_{t−1}, β_t·I) and its learned reverse process.

Coefficients are computed once in float64 (as improved-diffusion's ``GaussianDiffusion``) and kept
as float32 buffers indexed by t. The reverse mean is parameterised by ``prediction`` (epsilon, x0 or
the mean itself) and its variance by ``variance`` (diffusers' names: fixed_small = β̃_t,
fixed_large = β_t, learned = log-variance output, learned_range = interpolation of log β̃_t and
log β_t, Nichol & Dhariwal 2021 Eq. 15, at every t including t = 1, where β̃_1 = 0 is clipped to β̃_2 but the upper
end stays β_1; ``auto``: learned_range, or fixed_small when the loss trains the mean only).
"""

import torch
import torch.nn.functional as F

from ...errors import ConfigError
from ..learned_schedule import LearnedSchedule
from ..losses import LOG2, normal_kl, normal_nll
from ..objectives import KL, MSE, Hybrid, Objective
from ..schedules import check_betas
from .base import DiffusionProcess, check_choice

PREDICTIONS = ("epsilon", "x0", "mean")
VARIANCES = ("fixed_small", "fixed_large", "learned", "learned_range")


def _at(buffer: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """buffer[t], shaped to broadcast against ``like``."""
    return buffer[t].view(-1, *([1] * (like.ndim - 1)))


def coefficients(betas: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every coefficient the process uses, indexed by t = 0..T, in float64 from β_1..β_T (differentiable in them)."""
    b = F.pad(betas, (1, 0))
    alpha_bar = torch.cumprod(1 - b, 0)
    alpha_bar_prev = torch.cat([alpha_bar[:1], alpha_bar[:-1]])  # ᾱ_{t−1}; index 0 (never read) repeats ᾱ_0 = 1
    denom = (1 - alpha_bar).clamp_min(1e-300)  # 1 − ᾱ_0 = 0: index 0 is never read, but must not be 0/0 for autograd
    # Posterior q(x_{t-1}|x_t, x_0) = N(c0·x_0 + ct·x_t, β̃_t) (Ho et al. 2020, Eq. 6-7). β̃_1 = 0 is clipped to β̃_2
    # (β_1 when T = 1), which fixed_large also uses at t = 1 (improved-diffusion's convention).
    post_var = b * (1 - alpha_bar_prev) / denom
    clipped = post_var[2] if len(b) > 2 else b[1]
    post_var_clipped = torch.cat([clipped.expand(2), post_var[2:]])
    beta_large = torch.cat([post_var_clipped[:2], b[2:]])
    return {
        "betas": b,
        "alpha_bar": alpha_bar,
        "sqrt_alpha_bar": alpha_bar.sqrt(),
        "sqrt_one_minus_alpha_bar": (1 - alpha_bar).sqrt(),
        "post_c0": b * alpha_bar_prev.sqrt() / denom,
        "post_ct": (1 - alpha_bar_prev) * (1 - b).sqrt() / denom,
        "log_post_var": post_var_clipped.log(),
        "log_beta_large": beta_large.log(),
        "eps_coef": b / (1 - alpha_bar).sqrt().clamp_min(1e-300),
        "recip_sqrt_alpha": 1 / (1 - b).sqrt(),
    }


class GaussianDiffusion(DiffusionProcess):
    kind, name = "continuous", "gaussian"

    def __init__(self, betas: torch.Tensor, loss: Objective | None = None, data=None, prediction: str = "epsilon",
                 variance: str = "auto"):
        super().__init__()
        loss = KL() if loss is None else loss
        self.check_data(data)
        if variance == "auto":
            variance = "fixed_small" if isinstance(loss, MSE) else "learned_range"
        check_choice("process.prediction", prediction, PREDICTIONS)
        check_choice("process.variance", variance, VARIANCES)
        self.prediction, self.variance = prediction, variance
        if isinstance(betas, LearnedSchedule):
            # The coefficients become functions of the schedule's parameters: recomputed by ``refresh`` once per
            # step (``training_losses``, ``bound``, ``sample``) and after loading, never stored in checkpoints.
            self.schedule = betas
            values = coefficients(self.schedule.betas().detach())
            self.register_load_state_dict_post_hook(lambda module, _: module.refresh())
        else:
            self.schedule = None
            values = coefficients(check_betas(torch.as_tensor(betas, dtype=torch.float64)))
        for name, value in values.items():  # float32 buffers, in checkpoints unless they follow a learned schedule
            self.register_buffer(name, value.float(), persistent=self.schedule is None)
        self.coefficient_names = tuple(values)
        self.use_loss(loss)

    def _set_coefficients(self, values: dict[str, torch.Tensor]) -> None:
        """Replace coefficient buffers: assigning a tensor to a buffer's name replaces it, persistent or not."""
        for name, value in values.items():
            setattr(self, name, value.float())

    def refresh(self) -> None:
        """Recompute the coefficients from a learned schedule's parameters (differentiable where grad is on)."""
        if self.schedule is not None:
            self._set_coefficients(coefficients(self.schedule.betas()))

    def training_losses(self, net, x0: torch.Tensor) -> dict[str, torch.Tensor]:
        """As every process's; with a learned schedule its coefficients are rebuilt once for the step, so the loss
        reaches the schedule's parameters, then kept detached for whatever reads them between steps."""
        if self.schedule is None:
            return super().training_losses(net, x0)
        self.refresh()
        try:
            return super().training_losses(net, x0)
        finally:
            self._set_coefficients({name: getattr(self, name).detach() for name in self.coefficient_names})

    def bound(self, net, x0: torch.Tensor, *args, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            self.refresh()
        return super().bound(net, x0, *args, **kwargs)

    bound.__doc__ = DiffusionProcess.bound.__doc__

    def sample(self, net, shape: tuple[int, ...], *args, **kwargs) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        with torch.no_grad():
            self.refresh()
        return super().sample(net, shape, *args, **kwargs)

    sample.__doc__ = DiffusionProcess.sample.__doc__

    def out_dim(self, dim: int) -> int:
        """Network outputs per data dimension: the mean part, and a variance part when it is learned."""
        return 2 * dim if self.variance in ("learned", "learned_range") else dim

    def q_sample(
        self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε, a draw from q(x_t|x_0)."""
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        return _at(self.sqrt_alpha_bar, t, x0) * x0 + _at(self.sqrt_one_minus_alpha_bar, t, x0) * noise

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(x_{t−1}|x_t, x_0)."""
        mean = _at(self.post_c0, t, x0) * x0 + _at(self.post_ct, t, x0) * x_t
        return mean, _at(self.log_post_var, t, x0).expand_as(x0)

    def p_mean_logvar(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of p(x_{t−1}|x_t) from the network output."""
        if self.variance in ("learned", "learned_range"):
            out, v = out.chunk(2, dim=-1)
        if self.variance == "fixed_small":
            logvar = _at(self.log_post_var, t, x_t).expand_as(x_t)
        elif self.variance == "fixed_large":
            logvar = _at(self.log_beta_large, t, x_t).expand_as(x_t)
        elif self.variance == "learned":
            logvar = v
        else:
            frac = (v + 1) / 2  # v = 1: log β_t (β_1 itself at t = 1), v = −1: log β̃_t (clipped at t = 1)
            logvar = frac * _at(self.betas, t, x_t).log() + (1 - frac) * _at(self.log_post_var, t, x_t)
        if self.prediction == "epsilon":
            mean = (x_t - _at(self.eps_coef, t, x_t) * out) * _at(self.recip_sqrt_alpha, t, x_t)
        elif self.prediction == "x0":
            mean = _at(self.post_c0, t, x_t) * out + _at(self.post_ct, t, x_t) * x_t
        else:
            mean = out
        return mean, logvar

    def prior_term(self, x0: torch.Tensor) -> torch.Tensor:
        """L_T = KL(q(x_T|x_0) ‖ N(0, I)) in nats per point."""
        mean = self.sqrt_alpha_bar[-1] * x0
        logvar = torch.log1p(-self.alpha_bar[-1]).expand_as(x0)
        return normal_kl(mean, logvar, torch.zeros_like(x0), torch.zeros_like(x0)).flatten(1).sum(1)

    def term(self, out: torch.Tensor, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """L_{t−1} in nats per point: KL(q(x_{t−1}|x_t,x_0) ‖ p(x_{t−1}|x_t)) for t ≥ 2, −log p(x_0|x_1) for t = 1."""
        mean, logvar = self.p_mean_logvar(out, x_t, t)
        post_mean, post_logvar = self.q_posterior(x0, x_t, t)
        kl = normal_kl(post_mean, post_logvar, mean, logvar).flatten(1).sum(1)
        decoder = normal_nll(x0, mean, logvar).flatten(1).sum(1)
        return torch.where(t == 1, decoder, kl)

    def p_sample(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, generator=None) -> torch.Tensor:
        mean, logvar = self.p_mean_logvar(out, x_t, t)
        noise = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        return mean + torch.exp(0.5 * logvar) * noise

    def prior_sample(self, shape: tuple[int, ...], generator=None) -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=self.betas.device)

    def null_nll(self, x0: torch.Tensor) -> torch.Tensor:
        """−log π(x_0) under the prior N(0, I) itself, nats per point: the paper's L_null."""
        return normal_nll(x0, torch.zeros_like(x0), torch.zeros_like(x0)).flatten(1).sum(1)

    def check_loss(self, loss: Objective) -> None:
        """Refuse a loss that would leave part of the reverse model untrained."""
        if not isinstance(loss, (KL, MSE, Hybrid)):
            raise ConfigError(f"loss={loss.name} is not known to Gaussian diffusion; choose kl, mse or hybrid")
        if self.schedule is not None and not isinstance(loss, KL):
            raise ConfigError(
                f"schedule=learned is trained by the bound, and loss={loss.name}'s L_simple would drive it to destroy "
                "the signal at once (ε is easy to predict from pure noise); use loss=kl, or a fixed schedule=linear"
            )
        learned = self.variance in ("learned", "learned_range")
        if isinstance(loss, MSE) and learned:
            raise ConfigError(
                f"loss=mse trains only the mean, so process.variance={self.variance} would stay untrained; "
                "use loss=hybrid or loss=kl, or process.variance=fixed_small"
            )
        if isinstance(loss, Hybrid) and not learned:
            raise ConfigError(
                f"loss=hybrid trains the variance through L_vlb, but process.variance={self.variance} is fixed; "
                "use process.variance=learned_range, or loss=mse"
            )

    def losses_at(self, net, x0: torch.Tensor, t: torch.Tensor, weights: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss at the steps ``t`` drawn with probability 1/(T·weight): ``weight`` × the loss at t, so that its
        expectation is the loss under uniform t whatever the sampler (Nichol & Dhariwal weight the whole per-t loss).
        The loss at t: kl, T·L_{t−1}, with the prior term L_T added (nats per point); mse, DDPM's L_simple on what the
        network predicts; hybrid, L_simple + λ·T·L_{t−1} with the mean detached inside L_{t−1} (nats per dimension,
        as Improved DDPM). ``t_loss`` holds each example's loss at its t, unweighted, for the
        t-sampler; ``mse`` the weighted, so uniform-t, L_simple."""
        noise = torch.randn_like(x0)
        x_t = self.q_sample(x0, t, noise=noise)
        out = net(x_t, t)
        term = self.term(out, x0, x_t, t)
        vlb = self.prior_term(x0) + self.T * weights * term
        result = {"bound_bits": vlb.detach().mean() / LOG2, "t_loss": self.T * term.detach()}
        if isinstance(self.loss, KL):
            result["loss"] = vlb.mean()
            return result
        mean_out = out.chunk(2, dim=-1)[0] if self.variance in ("learned", "learned_range") else out
        target = {"epsilon": noise, "x0": x0}.get(self.prediction)
        if target is None:
            target = self.q_posterior(x0, x_t, t)[0]
        loss_t = ((mean_out - target) ** 2).flatten(1).mean(1)
        result["mse"] = (weights * loss_t).detach().mean()
        if isinstance(self.loss, Hybrid):
            frozen = torch.cat([mean_out.detach(), out.chunk(2, dim=-1)[1]], dim=-1)
            loss_t = loss_t + self.loss.vlb_weight * self.T * self.term(frozen, x0, x_t, t) / x0.shape[1:].numel()
        result["loss"], result["t_loss"] = (weights * loss_t).mean(), loss_t.detach()
        return result
