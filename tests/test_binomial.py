import itertools
import math

import pytest
import torch

from diffusion_lightning.diffusion import schedules
from diffusion_lightning.diffusion.losses import LOG2, bernoulli_kl
from diffusion_lightning.diffusion.objectives import MSE, Hybrid
from diffusion_lightning.diffusion.processes import BinomialDiffusion


def process(T=10, prior=0.2, **kw):
    return BinomialDiffusion(schedules.sohl_dickstein(T), prior=prior, **kw)


def test_closed_form_marginal_equals_the_step_by_step_chain():
    T, pi = 10, 0.2
    p = process(T, pi)
    # exact chain on one bit: rate after each step r ← r(1−β) + π·β
    for x0 in (0.0, 1.0):
        r = x0
        for t in range(1, T + 1):
            b = float(p.betas[t])
            r = r * (1 - b) + pi * b
            closed = p.q_rate(torch.tensor([[x0]]), torch.tensor([t])).item()
            assert closed == pytest.approx(r, abs=1e-6)
    assert p.q_rate(torch.ones(1, 1), torch.tensor([T])).item() == pytest.approx(pi)


def test_posterior_is_bayes_rule_by_enumeration():
    p = process(T=10, prior=0.3)
    for t, x0, xt in itertools.product(range(2, 11), (0.0, 1.0), (0.0, 1.0)):
        b = float(p.betas[t])
        m = p.q_rate(torch.tensor([[x0]]), torch.tensor([t - 1])).item()  # q(x_{t−1}=1|x_0)
        joint = {}
        for prev in (0, 1):
            step = prev * (1 - b) + 0.3 * b  # q(x_t=1|x_{t−1}=prev)
            joint[prev] = (m if prev else 1 - m) * (step if xt else 1 - step)
        expected = joint[1] / (joint[0] + joint[1])
        got = p.q_posterior(torch.tensor([[x0]]), torch.tensor([[xt]]), torch.tensor([t])).item()
        assert got == pytest.approx(expected, abs=1e-6)


def test_kl_is_nonnegative():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(10_000, generator=g), torch.rand(10_000, generator=g)
    assert (bernoulli_kl(a, b) >= -1e-6).all()
    assert bernoulli_kl(a, a).abs().max() < 1e-5


def test_prior_term_vanishes_under_the_sohl_dickstein_schedule():
    assert process(T=50).prior_term(torch.ones(4, 20)).abs().max() < 1e-6


def oracle(p: BinomialDiffusion, rate: torch.Tensor):
    """For independent bits x_0,i ~ B(rate_i), the true p̃(x_0,i=1|x_t) is Bayes' rule on one bit."""
    def net(x_t, t):
        like1 = torch.where(x_t > 0.5, p.q_rate(torch.ones_like(x_t), t), 1 - p.q_rate(torch.ones_like(x_t), t))
        like0 = torch.where(x_t > 0.5, p.q_rate(torch.zeros_like(x_t), t), 1 - p.q_rate(torch.zeros_like(x_t), t))
        post = rate * like1 / (rate * like1 + (1 - rate) * like0)
        return torch.logit(post, eps=1e-7)
    return net


@pytest.mark.parametrize("T", [5, 200])
def test_oracle_bound_equals_the_true_nll(T):
    rate = torch.tensor([0.1, 0.5, 0.8, 0.3])
    p = process(T=T, prior=0.4)
    x0 = torch.bernoulli(rate.expand(20_000, 4), generator=torch.Generator().manual_seed(0))
    bits, _ = p.bound(oracle(p, rate), x0, generator=torch.Generator().manual_seed(1))
    true = -(x0 * rate.log() + (1 - x0) * (1 - rate).log()).sum(1) / LOG2
    diff = bits - true
    se = diff.std() / math.sqrt(len(diff))
    assert abs(diff.mean().item()) < 4 * se + 2e-3


def test_rate_prediction_and_losses():
    p = process(T=20, prediction="rate")
    net = lambda x, t: torch.zeros_like(x)  # noqa: E731
    bits, _ = p.bound(net, torch.ones(8, 5))
    assert torch.isfinite(bits).all()
    with pytest.raises(ValueError, match="loss=mse needs Gaussian diffusion"):
        p.check_loss(MSE())
    with pytest.raises(ValueError, match="needs process.prediction=x0"):
        p.check_loss(Hybrid())
    with pytest.raises(ValueError, match="prior rate"):
        process(prior=1.0)


def test_null_likelihood_is_the_papers():
    """L_null of a heartbeat sequence under π = 0.2 is 20·H(0.2) = 14.439 bits (paper, Table 1)."""
    x = torch.zeros(1, 20)
    x[0, ::5] = 1
    assert process(prior=0.2).null_nll(x).item() / LOG2 == pytest.approx(14.439, abs=1e-3)


@pytest.mark.parametrize("prediction", ["rate", "x0"])
def test_a_saturated_logit_keeps_its_value_and_its_gradient(prediction):
    """−log p(x_0 = 1|x_1) for the logit −40 is 40 nats, with gradient −1 on the logit: through logsigmoid, not through
    log(sigmoid) clamped at 1e-12, which said 27.6 nats and no gradient."""
    p = BinomialDiffusion(schedules.sohl_dickstein(8), prior=0.3, prediction=prediction)
    x0, t = torch.ones(1, 1), torch.ones(1, dtype=torch.long)
    out = torch.full((1, 1), -40.0, requires_grad=True)
    term = p.term(out, x0, p.q_sample(x0, t), t)
    term.sum().backward()
    assert term.item() == pytest.approx(40.0, rel=1e-6) and out.grad.item() == pytest.approx(-1.0, rel=1e-6)
    x_t = torch.ones(1, 1)
    t = torch.full((1,), 5)
    kl = p.term(out, torch.zeros(1, 1), x_t, t)
    kl.sum().backward()
    assert torch.isfinite(kl).all() and torch.isfinite(out.grad).all()
