import math

import pytest
import torch

from diffusion_lightning.diffusion import schedules
from diffusion_lightning.diffusion.losses import LOG2, normal_kl
from diffusion_lightning.diffusion.objectives import KL, MSE, Hybrid
from diffusion_lightning.diffusion.processes import GaussianDiffusion


def process(T=50, **kw):
    return GaussianDiffusion(schedules.linear(T), **kw)


def test_q_sample_has_the_closed_form_moments():
    p = process(T=100)
    x0 = torch.full((200_000, 2), 1.5)
    for t in (1, 30, 100):
        x_t = p.q_sample(x0, torch.full((len(x0),), t), generator=torch.Generator().manual_seed(t))
        ab = float(p.alpha_bar[t])
        assert x_t.mean().item() == pytest.approx(math.sqrt(ab) * 1.5, abs=0.01)
        assert x_t.var().item() == pytest.approx(1 - ab, rel=0.02, abs=1e-4)


def test_closed_form_marginal_equals_the_step_by_step_chain():
    p = process(T=20)
    g = torch.Generator().manual_seed(0)
    x = torch.full((200_000, 1), -2.0)
    for t in range(1, 21):
        b = float(p.betas[t])
        x = math.sqrt(1 - b) * x + math.sqrt(b) * torch.randn(x.shape, generator=g)
    ab = float(p.alpha_bar[20])
    assert x.mean().item() == pytest.approx(-2 * math.sqrt(ab), abs=0.01)
    assert x.var().item() == pytest.approx(1 - ab, rel=0.02)


def test_posterior_is_bayes_rule():
    """q(x_{t−1}|x_t, x_0) ∝ q(x_t|x_{t−1})·q(x_{t−1}|x_0): product of two Gaussians in x_{t−1}."""
    p = process(T=50)
    x0, x_t = torch.tensor([[0.7]]), torch.tensor([[-0.3]])
    for t in (2, 10, 50):
        b, ab_prev = float(p.betas[t]), float(p.alpha_bar[t - 1])
        # likelihood in x_{t-1}: N(x_t; √(1−b)·x_{t−1}, b) → precision (1−b)/b, mean x_t/√(1−b)
        prec = (1 - b) / b + 1 / (1 - ab_prev)
        mean = ((1 - b) / b * x_t / math.sqrt(1 - b) + math.sqrt(ab_prev) * x0 / (1 - ab_prev)) / prec
        m, logvar = p.q_posterior(x0, x_t, torch.tensor([t]))
        assert m.item() == pytest.approx(mean.item(), rel=1e-4)
        assert math.exp(logvar.item()) == pytest.approx(1 / prec, rel=1e-4)


def test_kl_is_nonnegative_and_zero_only_at_equality():
    g = torch.Generator().manual_seed(0)
    m1, m2, l1, l2 = (torch.randn(10_000, generator=g) for _ in range(4))
    assert (normal_kl(m1, l1, m2, l2) >= -1e-6).all()
    assert normal_kl(m1, l1, m1, l1).abs().max() < 1e-6


@pytest.mark.parametrize("prediction,variance", [("epsilon", "learned_range"), ("x0", "fixed_small"),
                                                 ("mean", "learned"), ("epsilon", "fixed_large")])
def test_every_parameterisation_gives_a_finite_bound(prediction, variance):
    p = process(T=30, prediction=prediction, variance=variance)
    net = lambda x, t: torch.zeros(len(x), p.out_dim(2))  # noqa: E731
    bits, per_t = p.bound(net, torch.randn(64, 2))
    assert torch.isfinite(bits).all() and per_t.shape == (31,)


def oracle(p: GaussianDiffusion):
    """For x_0 ~ N(0, I) every q(x_t) is N(0, I), so the true reverse step is N(√(1−β_t)·x_t, β_t·I)."""
    def net(x, t):
        b = p.betas[t].unsqueeze(-1)
        return torch.cat([torch.sqrt(1 - b) * x, torch.log(b).expand_as(x)], -1)
    return net


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_oracle_bound_equals_the_true_nll(schedule):
    p = GaussianDiffusion(getattr(schedules, schedule)(40), prediction="mean", variance="learned")
    x0 = torch.randn(40_000, 2, generator=torch.Generator().manual_seed(1))
    bits, _ = p.bound(oracle(p), x0, generator=torch.Generator().manual_seed(2))
    true = (math.log(2 * math.pi) + 0.5 * (x0**2).sum(1)) / LOG2
    se = (bits - true).std() / math.sqrt(len(x0))
    assert abs((bits - true).mean().item()) < 4 * se + 1e-3
    assert se < 0.02


def test_a_worse_model_has_a_larger_bound():
    p = GaussianDiffusion(schedules.linear(40), prediction="mean", variance="learned")
    x0 = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(1))
    good = oracle(p)
    bad = lambda x, t: good(x, t) * torch.tensor([1.1, 1.1, 1.0, 1.0])  # noqa: E731
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert p.bound(bad, x0, generator=g())[0].mean() > p.bound(good, x0, generator=g())[0].mean() + 0.01


def test_training_loss_estimates_the_bound_without_bias():
    p = GaussianDiffusion(schedules.linear(40), prediction="mean", variance="learned")
    x0 = torch.randn(200_000, 2, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(5)
    t = torch.randint(1, 41, (len(x0),))
    estimate = p.losses_at(oracle(p), x0, t, torch.ones(len(x0)))["bound_bits"].item()
    exact = p.bound(oracle(p), x0[:20_000])[0].mean().item()
    assert estimate == pytest.approx(exact, abs=0.1)


def test_loss_and_variance_pairings_are_checked():
    with pytest.raises(ValueError, match="loss=mse trains only the mean"):
        process(variance="learned_range", loss=MSE())
    with pytest.raises(ValueError, match="loss=hybrid trains the variance"):
        process(variance="fixed_small", loss=Hybrid())
    with pytest.raises(ValueError, match="process.variance='wide' is not known"):
        process(variance="wide")


def test_a_hybrid_weight_must_be_positive():
    with pytest.raises(ValueError, match="loss.vlb_weight=0 must be > 0"):
        Hybrid(vlb_weight=0)


def test_auto_variance_follows_the_loss():
    assert process(loss=MSE()).variance == "fixed_small"
    assert process(loss=KL()).variance == process(loss=Hybrid()).variance == "learned_range"


def test_a_fixed_schedules_coefficients_are_buffers_in_the_state_dict():
    """Checkpoints written by earlier versions hold these ten keys; a learned schedule's are rebuilt, never stored."""
    p = process(T=10)
    names = {"alpha_bar", "betas", "eps_coef", "log_beta_large", "log_post_var", "post_c0", "post_ct",
             "recip_sqrt_alpha", "sqrt_alpha_bar", "sqrt_one_minus_alpha_bar"}
    assert set(p.state_dict()) == names and {name for name, _ in p.named_buffers()} == names
    assert all(b.dtype == torch.float32 and b.shape == (11,) for b in p.buffers())
    from diffusion_lightning.diffusion.learned_schedule import LearnedSchedule

    learned = GaussianDiffusion(LearnedSchedule(10, schedules.linear))
    assert {name for name, _ in learned.named_buffers(recurse=False)} == names
    assert set(learned.state_dict()) == {"schedule.u", "schedule.log_snr_1"}


def test_the_network_in_cache_sized_batches_gives_the_outputs_of_one_batch():
    from diffusion_lightning.diffusion.processes.base import forward_in_batches
    from diffusion_lightning.networks import TimeMLP

    net, calls = TimeMLP(2, 4, T=10, hidden=32), []
    net.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    x, t = torch.randn(100, 2), torch.randint(1, 11, (100,))
    whole = net(x, t)
    calls.clear()
    parts = forward_in_batches(net, x, t, rows=32)
    assert calls == [32, 32, 32, 4] and torch.allclose(parts, whole, atol=1e-6)
