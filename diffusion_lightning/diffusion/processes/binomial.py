"""Binomial (bit-flip) diffusion q(x_t|x_{t−1}) = B(x_{t−1}(1−β_t) + π·β_t) toward a Bernoulli(π) prior
(Sohl-Dickstein et al. 2015, Table App.1), with its closed-form marginal and posterior.

The reverse model either predicts the rates of p(x_{t−1}|x_t) directly (``rate``, the paper) or
predicts x_0 (``x0``, as D3PM, Austin et al. 2021): p(x_{t−1}|x_t) = Σ_{x_0} q(x_{t−1}|x_t,x_0)·p̃(x_0|x_t)
per bit, which is exact when p̃ is the true posterior of each bit.
"""

import torch
import torch.nn.functional as F

from ...errors import ConfigError
from ..losses import LOG2, bernoulli_kl, bernoulli_kl_log, bernoulli_nll, bernoulli_nll_log
from ..objectives import KL, MSE, Hybrid, Objective
from ..schedules import check_betas
from .base import DiffusionProcess, check_choice
from .gaussian import _at

PREDICTIONS = ("x0", "rate")


class BinomialDiffusion(DiffusionProcess):
    """``prior``: π, a number in (0, 1), or "data" for the training data's mean activity (the paper)."""

    kind, name = "binary", "binomial"

    def __init__(self, betas: torch.Tensor, loss: Objective | None = None, data=None, prediction: str = "x0",
                 prior: float | str = 0.5):
        super().__init__()
        self.check_data(data)
        check_choice("process.prediction", prediction, PREDICTIONS)
        if prior == "data":
            if data is None:
                raise ConfigError("process.prior=data needs the data; give a number in (0, 1), e.g. process.prior=0.5")
            prior = data.mean_activity()
        if isinstance(prior, str) or not 0 < prior < 1:
            raise ConfigError(f"prior rate π = {prior} must lie in (0, 1) or be data (the data's mean activity); "
                              "set process.prior to a value in (0, 1), e.g. process.prior=0.5")
        self.prediction, self.prior_rate = prediction, float(prior)
        if isinstance(betas, torch.nn.Module):  # schedule=learned: its gradient needs reparameterised noise
            raise ConfigError("schedule=learned is learned through Gaussian noise, and bit flips cannot carry its gradient; "
                              "binomial diffusion keeps β_t = 1/(T−t+1) fixed (paper §2.4.1): use schedule=sohl_dickstein")
        b = torch.nn.functional.pad(check_betas(torch.as_tensor(betas, dtype=torch.float64), True), (1, 0))
        alpha_bar = torch.cumprod(1 - b, 0)
        self.register_buffer("betas", b.float())
        self.register_buffer("alpha_bar", alpha_bar.float())
        self.use_loss(KL() if loss is None else loss)

    def out_dim(self, dim: int) -> int:
        return dim

    def q_rate(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Rate of q(x_t|x_0) = B(x_0·ᾱ_t + π(1−ᾱ_t))."""
        a = _at(self.alpha_bar, t, x0)
        return x0 * a + self.prior_rate * (1 - a)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.bernoulli(self.q_rate(x0, t), generator=generator)

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Rate of q(x_{t−1}=1|x_t, x_0) by Bayes' rule: q(x_t|x_{t−1}=1)·q(x_{t−1}=1|x_0), normalised."""
        beta = _at(self.betas, t, x0)
        keep1 = (1 - beta) + self.prior_rate * beta  # q(x_t=1|x_{t−1}=1)
        keep0 = self.prior_rate * beta  # q(x_t=1|x_{t−1}=0)
        like1 = torch.where(x_t > 0.5, keep1, 1 - keep1)
        like0 = torch.where(x_t > 0.5, keep0, 1 - keep0)
        m = self.q_rate(x0, t - 1)
        return m * like1 / (m * like1 + (1 - m) * like0)

    def p_log_rates(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log r and log(1 − r) of p(x_{t−1}=1|x_t) = r, from the network's logits through logsigmoid (never through
        log(sigmoid), whose saturated values would lose the gradient). With ``x0`` the mixture
        r = p̃·q(x_{t−1}=1|x_t, x_0=1) + (1 − p̃)·q(x_{t−1}=1|x_t, x_0=0) is summed in log space."""
        log_p, log_1mp = F.logsigmoid(out), F.logsigmoid(-out)
        if self.prediction == "rate":
            return log_p, log_1mp
        post1 = self.q_posterior(torch.ones_like(x_t), x_t, t)
        post0 = self.q_posterior(torch.zeros_like(x_t), x_t, t)
        return (torch.logaddexp(log_p + post1.log(), log_1mp + post0.log()),
                torch.logaddexp(log_p + torch.log1p(-post1), log_1mp + torch.log1p(-post0)))

    def p_rate(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Rate of p(x_{t−1}=1|x_t) from the network's logits."""
        return self.p_log_rates(out, x_t, t)[0].exp()

    def prior_term(self, x0: torch.Tensor) -> torch.Tensor:
        """L_T = KL(q(x_T|x_0) ‖ B(π)) in nats per sequence (0 when ᾱ_T = 0, as with β_t = 1/(T−t+1))."""
        t = torch.full((len(x0),), self.T, device=x0.device)
        return bernoulli_kl(self.q_rate(x0, t), torch.full_like(x0, self.prior_rate)).flatten(1).sum(1)

    def term(self, out: torch.Tensor, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """L_{t−1} in nats per sequence: KL(q(x_{t−1}|x_t,x_0) ‖ p(x_{t−1}|x_t)) for t ≥ 2, −log p(x_0|x_1) for t = 1."""
        log_rates = self.p_log_rates(out, x_t, t)
        kl = bernoulli_kl_log(self.q_posterior(x0, x_t, t), *log_rates).flatten(1).sum(1)
        decoder = bernoulli_nll_log(x0, *log_rates).flatten(1).sum(1)
        return torch.where(t == 1, decoder, kl)

    def p_sample(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, generator=None) -> torch.Tensor:
        return torch.bernoulli(self.p_rate(out, x_t, t), generator=generator)

    def prior_sample(self, shape: tuple[int, ...], generator=None) -> torch.Tensor:
        return torch.bernoulli(torch.full(shape, self.prior_rate, device=self.betas.device), generator=generator)

    def null_nll(self, x0: torch.Tensor) -> torch.Tensor:
        """−log B(x_0; π) under the prior itself, nats per sequence: the paper's L_null."""
        return bernoulli_nll(x0, torch.full_like(x0, self.prior_rate)).flatten(1).sum(1)

    def check_loss(self, loss: Objective) -> None:
        if isinstance(loss, MSE):
            raise ConfigError("loss=mse needs Gaussian diffusion (it regresses ε); for binary data use loss=kl or loss=hybrid")
        if not isinstance(loss, (KL, Hybrid)):
            raise ConfigError(f"loss={loss.name} is not known to binomial diffusion; choose kl or hybrid")
        if isinstance(loss, Hybrid) and self.prediction != "x0":
            raise ConfigError("loss=hybrid adds a cross-entropy on x_0, so it needs process.prediction=x0")

    def losses_at(self, net, x0: torch.Tensor, t: torch.Tensor, weights: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss at the steps ``t`` drawn with probability 1/(T·weight): L_T + ``weight`` × the loss at t, whose
        expectation is the loss under uniform t whatever the sampler. The loss at t: kl, T·L_{t−1} (nats per
        sequence); hybrid, that plus λ·(−log p̃(x_0|x_t)), D3PM's auxiliary cross-entropy. ``t_loss`` holds each
        example's loss at its t, unweighted, for the t-sampler."""
        x_t = self.q_sample(x0, t)
        out = net(x_t, t)
        term = self.term(out, x0, x_t, t)
        vlb = self.prior_term(x0) + self.T * weights * term
        result = {"bound_bits": vlb.detach().mean() / LOG2, "loss": vlb.mean(), "t_loss": self.T * term.detach()}
        if isinstance(self.loss, Hybrid):
            ce = torch.nn.functional.binary_cross_entropy_with_logits(out, x0, reduction="none").flatten(1).sum(1)
            result["ce"] = (weights * ce).detach().mean()
            result["loss"] = result["loss"] + self.loss.vlb_weight * (weights * ce).mean()
            result["t_loss"] = (self.T * term + self.loss.vlb_weight * ce).detach()
        return result
