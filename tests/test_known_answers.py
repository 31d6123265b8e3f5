"""Known answers for every formula behind the bound: each prediction × variance of the discrete Gaussian process given
the exact answer, each bound term against its closed form, and the exact reverse process of N(0, I) or Bernoulli data
whose bound is the true NLL. Expectations over x_t are taken exactly (two-point quadrature of a quadratic in the noise,
or enumeration of a bit), so the tolerances are float32 round-off, not Monte-Carlo error. The closed forms are
computed here in float64 from β_1..β_T, independently of the processes' own coefficient tables."""

import json
import math

import pytest
import torch

from diffusion_lightning.diffusion import schedules
from diffusion_lightning.diffusion.losses import LOG2
from diffusion_lightning.diffusion.objectives import KL, MSE, Hybrid
from diffusion_lightning.diffusion.processes import BinomialDiffusion, ContinuousGaussianDiffusion, GaussianDiffusion
from diffusion_lightning.diffusion.processes.base import chunks_of_t, strata_edges
from diffusion_lightning.errors import ConfigError
from diffusion_lightning.training.run import run

PREDICTIONS = ("epsilon", "x0", "mean")
VARIANCES = ("fixed_small", "fixed_large", "learned", "learned_range")
T = 6
BETAS = schedules.linear(T, beta_start=0.05, beta_end=0.6)
LOG_2PI = math.log(2 * math.pi)


def closed_forms(betas: torch.Tensor = BETAS) -> dict[str, torch.Tensor]:
    """β_t, ᾱ_t, ᾱ_{t−1} and the posterior variance β̃_t = β_t(1−ᾱ_{t−1})/(1−ᾱ_t), indexed by t = 0..T (float64)."""
    b = torch.cat([torch.zeros(1, dtype=torch.float64), betas.double()])
    alpha_bar = torch.cumprod(1 - b, 0)
    alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
    post_var = torch.zeros_like(b)
    post_var[1:] = b[1:] * (1 - alpha_bar_prev[1:]) / (1 - alpha_bar[1:])
    return {"beta": b, "alpha_bar": alpha_bar, "alpha_bar_prev": alpha_bar_prev, "post_var": post_var}


C = closed_forms()
# β̃_1 = 0 (x_0 is known from x_1 and x_0): both fixed variances use β̃_2 at t = 1 (improved-diffusion's convention).
SMALL = torch.cat([C["post_var"][2:3], C["post_var"][2:3], C["post_var"][2:]])
LARGE = torch.cat([C["post_var"][2:3], C["post_var"][2:3], C["beta"][2:]])


def col(v: torch.Tensor) -> torch.Tensor:
    return v.view(-1, 1)


def posterior_mean(x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """μ̃_t = √ᾱ_{t−1}·β_t/(1−ᾱ_t)·x_0 + √(1−β_t)·(1−ᾱ_{t−1})/(1−ᾱ_t)·x_t (Ho et al. 2020, Eq. 7)."""
    b, ab, abp = (col(C[k][t]) for k in ("beta", "alpha_bar", "alpha_bar_prev"))
    return (abp.sqrt() * b * x0.double() + (1 - b).sqrt() * (1 - abp) * x_t.double()) / (1 - ab)


def posterior_net(x0: torch.Tensor, prediction: str, variance: str):
    """A stub reverse network that knows x_0 (one point, or the batch it is called with) and answers with the true
    posterior q(x_{t−1}|x_t, x_0) in the parameterisation: the true ε, x_0 or mean; for a learned variance the
    output that gives β̃_t (log β̃_t, or v = −1)."""
    def net(x_t, t):
        x = x0.expand_as(x_t).double()
        ab = col(C["alpha_bar"][t])
        out = {"epsilon": (x_t.double() - ab.sqrt() * x) / (1 - ab).sqrt(), "x0": x,
               "mean": posterior_mean(x, x_t, t)}[prediction]
        if variance == "learned":
            out = torch.cat([out, col(SMALL[t]).log().expand_as(x)], -1)
        elif variance == "learned_range":
            out = torch.cat([out, torch.full_like(x, -1.0)], -1)
        return out.float()
    return net


def exact_reverse_net(prediction: str, variance: str):
    """For x_0 ~ N(0, I) every q(x_t) is N(0, I), so the true reverse step is q(x_{t−1}|x_t) = N(√(1−β_t)·x_t, β_t·I):
    ε̂ = E[ε|x_t] = √(1−ᾱ_t)·x_t, x̂_0 = E[x_0|x_t] = √ᾱ_t·x_t; the variance β_t is log β_t (learned) or v = +1."""
    def net(x_t, t):
        b, ab = col(C["beta"][t]), col(C["alpha_bar"][t])
        x = x_t.double()
        out = {"epsilon": (1 - ab).sqrt() * x, "x0": ab.sqrt() * x, "mean": (1 - b).sqrt() * x}[prediction]
        v = b.log() if variance == "learned" else torch.ones_like(b)
        if variance in ("learned", "learned_range"):
            out = torch.cat([out, v.expand_as(x)], -1)
        return out.float()
    return net


def gaussian(prediction: str, variance: str, **kwargs) -> GaussianDiffusion:
    return GaussianDiffusion(BETAS, prediction=prediction, variance=variance, **kwargs)


def data(n: int = 5, d: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) * 1.5


def draw(p, x0: torch.Tensor, t: int, sign: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """t for every point, and x_t at noise ``sign``·1 (or a standard normal draw when sign is 0)."""
    ts = torch.full((len(x0),), t)
    noise = torch.full_like(x0, sign) if sign else torch.randn(x0.shape, generator=torch.Generator().manual_seed(t))
    return ts, p.q_sample(x0, ts, noise=noise)


def decoder_closed_form(logvar: float, d: int) -> float:
    """−log N(x_0; x_0, e^logvar·I): the decoder term when the mean is exactly x_0 (as the posterior's mean at t = 1)."""
    return 0.5 * d * (LOG_2PI + logvar)


def prior_closed_form(x0: torch.Tensor, alpha_bar_T: float) -> torch.Tensor:
    """KL(N(√ᾱ_T·x_0, (1−ᾱ_T)·I) ‖ N(0, I)) = ½·Σ(ᾱ_T·x_0² − ᾱ_T − log(1−ᾱ_T))."""
    return 0.5 * (alpha_bar_T * x0.double() ** 2 - alpha_bar_T - math.log1p(-alpha_bar_T)).sum(1)


# The discrete Gaussian process: every prediction × variance given the exact posterior.

@pytest.mark.parametrize("variance", VARIANCES)
@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_the_true_posterior_gives_its_mean_and_variance_in_every_parameterisation(prediction, variance):
    p, x0 = gaussian(prediction, variance), data()
    expected_var = LARGE if variance == "fixed_large" else SMALL
    assert p.out_dim(3) == (6 if variance in ("learned", "learned_range") else 3)
    for t in range(1, T + 1):
        ts, x_t = draw(p, x0, t)
        mean, logvar = p.p_mean_logvar(posterior_net(x0, prediction, variance)(x_t, ts), x_t, ts)
        assert torch.allclose(mean.double(), posterior_mean(x0, x_t, ts), rtol=1e-5, atol=1e-5)
        assert torch.allclose(logvar.double(), expected_var[t].log().expand_as(x0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variance", VARIANCES)
@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_the_true_posterior_makes_every_kl_term_zero_and_the_decoder_its_closed_form(prediction, variance):
    """KL(q(x_{t−1}|x_t,x_0) ‖ p) = 0 for t ≥ 2, except for fixed_large's variance β_t ≠ β̃_t, whose KL is
    ½·d·(log(β_t/β̃_t) + β̃_t/β_t − 1); at t = 1 the mean is x_0 exactly, so −log p(x_0|x_1) = ½·d·(log 2π + log σ_1²)."""
    p, x0 = gaussian(prediction, variance), data()
    d = x0.shape[1]
    for t in range(1, T + 1):
        ts, x_t = draw(p, x0, t)
        term = p.term(posterior_net(x0, prediction, variance)(x_t, ts), x0, x_t, ts).double()
        if t == 1:
            expected = decoder_closed_form(math.log(LARGE[1] if variance == "fixed_large" else SMALL[1]), d)
        elif variance == "fixed_large":
            ratio = float(C["post_var"][t] / C["beta"][t])
            expected = 0.5 * d * (-math.log(ratio) + ratio - 1)
        else:
            expected = 0.0
        assert expected >= 0 or t == 1
        assert torch.allclose(term, torch.full_like(term, expected), atol=2e-5), (t, term, expected)


@pytest.mark.parametrize("variance", VARIANCES)
@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_the_bound_of_one_point_under_its_posterior_is_the_prior_plus_the_decoder_term(prediction, variance):
    """Given the posterior of one data point every KL term is known whatever x_t is drawn: the bound in bits is
    L_T + the known KLs + the decoder, and each part lands in its own index of the per-t means, in any chunking."""
    p, x0 = gaussian(prediction, variance), data(n=1)
    net = posterior_net(x0, prediction, variance)
    bits, per_t = p.bound(net, x0, generator=torch.Generator().manual_seed(0))
    chunked, per_t_chunked = p.bound(net, x0, generator=torch.Generator().manual_seed(0), max_rows=4)
    expected = torch.zeros(T + 1, dtype=torch.float64)
    expected[0] = prior_closed_form(x0, float(C["alpha_bar"][T]))[0]
    expected[1] = decoder_closed_form(math.log(LARGE[1] if variance == "fixed_large" else SMALL[1]), 3)
    if variance == "fixed_large":
        ratio = C["post_var"][2:] / C["beta"][2:]
        expected[2:] = 1.5 * (ratio - 1 - ratio.log())
    assert torch.allclose(per_t, expected / LOG2, atol=3e-5)
    assert torch.allclose(per_t_chunked, per_t, atol=1e-6) and torch.allclose(chunked, bits, atol=1e-5)
    assert bits.shape == (1,) and bits.item() == pytest.approx(expected.sum().item() / LOG2, abs=1e-4)


def test_learned_range_interpolates_the_log_variance_between_its_ends():
    """v = −1 gives the posterior variance β̃_t, v = +1 gives β_t, v = 0 their geometric mean (Nichol & Dhariwal,
    Eq. 15), at every t: at t = 1 the range runs from the clipped β̃_2 to β_1 itself (improved-diffusion's
    min_log = the clipped log β̃_t, max_log = log β_t)."""
    p, x0 = gaussian("epsilon", "learned_range"), data()
    for t in range(1, T + 1):
        ts, x_t = draw(p, x0, t)
        low, high = SMALL[t].log(), C["beta"][t].log()
        assert (high - low).abs() > 0.1, t  # the ends differ at t = 1 too, so v must matter there
        for v, expected in ((-1.0, low), (1.0, high), (0.0, 0.5 * (low + high)), (0.5, 0.75 * high + 0.25 * low)):
            out = torch.cat([torch.zeros_like(x0), torch.full_like(x0, v)], -1)
            logvar = p.p_mean_logvar(out, x_t, ts)[1]
            assert torch.allclose(logvar.double(), expected.expand_as(logvar), atol=1e-5), (t, v)


def test_a_learned_log_variance_is_taken_as_it_is():
    p, x0 = gaussian("mean", "learned"), data()
    ts, x_t = draw(p, x0, 3)
    v = torch.linspace(-4, 2, x0.numel()).view_as(x0)
    mean, logvar = p.p_mean_logvar(torch.cat([x0 + 1, v], -1), x_t, ts)
    assert torch.equal(logvar, v) and torch.equal(mean, x0 + 1)


# Each bound term against its closed form.

def test_q_sample_is_the_closed_form_marginal():
    p, x0 = gaussian("epsilon", "fixed_small"), data()
    noise = data(seed=1)
    for t in range(1, T + 1):
        ts = torch.full((len(x0),), t)
        ab = float(C["alpha_bar"][t])
        expected = math.sqrt(ab) * x0.double() + math.sqrt(1 - ab) * noise.double()
        assert torch.allclose(p.q_sample(x0, ts, noise=noise).double(), expected, atol=1e-6)


def test_the_gaussian_posterior_at_every_step():
    p, x0 = gaussian("epsilon", "fixed_small"), data()
    for t in range(1, T + 1):
        ts, x_t = draw(p, x0, t)
        mean, logvar = p.q_posterior(x0, x_t, ts)
        assert torch.allclose(mean.double(), posterior_mean(x0, x_t, ts), atol=1e-5)
        assert torch.allclose(logvar.double(), SMALL[t].log().expand_as(x0), atol=1e-5)
    assert torch.allclose(p.q_posterior(x0, x0 * 2, torch.ones(len(x0), dtype=torch.long))[0], x0)  # β̃_1 = 0


def test_the_gaussian_prior_term_is_its_closed_form():
    x0 = data()
    for betas in (BETAS, schedules.linear(40)):
        p = GaussianDiffusion(betas)
        ab_T = float(closed_forms(betas)["alpha_bar"][-1])
        assert torch.allclose(p.prior_term(x0).double(), prior_closed_form(x0, ab_T), rtol=1e-5, atol=1e-6)


def test_the_null_likelihood_is_the_standard_normal_nll():
    x0 = data()
    expected = 0.5 * (LOG_2PI * x0.shape[1] + (x0.double() ** 2).sum(1))
    assert torch.allclose(gaussian("epsilon", "fixed_small").null_nll(x0).double(), expected, atol=1e-5)


@pytest.mark.parametrize("variance", ["learned", "learned_range"])
@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_the_exact_reverse_process_of_gaussian_data_has_its_true_nll_as_bound(prediction, variance):
    """p(x_{t−1}|x_t) = q(x_{t−1}|x_t) and p(x_T) = q(x_T) make the bound tight point by point: L_T + Σ_t E[L_{t−1}] =
    −log N(x_0; 0, I) exactly. Each E over x_t ~ q(x_t|x_0) is a quadratic in the noise, so the two draws ε = ±1 give it
    exactly. The learned variances can say β_t at every t, t = 1 included (learned_range at v = +1), so their bound is
    tight; the fixed ones cannot at t = 1."""
    p, x0 = gaussian(prediction, variance), data(n=8)
    net = exact_reverse_net(prediction, variance)
    total = p.prior_term(x0).double()
    for t in range(1, T + 1):
        for sign in (1.0, -1.0):
            ts, x_t = draw(p, x0, t, sign)
            total += 0.5 * p.term(net(x_t, ts), x0, x_t, ts).double()
    assert torch.allclose(total, p.null_nll(x0).double(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_a_variance_held_at_the_clipped_value_at_t_1_costs_its_closed_form_gap(prediction):
    """fixed_large reaches β_t for t ≥ 2 but σ_1² = β̃_2 at t = 1: the bound exceeds the true NLL by the decoder's gap
    ½·Σ(log(s/β_1) + (β_1²·x_0² + α_1·β_1)·(1/s − 1/β_1)), s = β̃_2."""
    p, x0 = gaussian(prediction, "fixed_large"), data(n=8)
    net = exact_reverse_net(prediction, "fixed_large")
    total = p.prior_term(x0).double()
    for t in range(1, T + 1):
        for sign in (1.0, -1.0):
            ts, x_t = draw(p, x0, t, sign)
            total += 0.5 * p.term(net(x_t, ts), x0, x_t, ts).double()
    b1, s = float(C["beta"][1]), float(C["post_var"][2])
    gap = 0.5 * (math.log(s / b1) + (b1**2 * x0.double() ** 2 + (1 - b1) * b1) * (1 / s - 1 / b1)).sum(1)
    assert (gap > 0.01).all()
    assert torch.allclose(total - p.null_nll(x0).double(), gap, rtol=1e-4, atol=1e-4)


# The training losses of the discrete Gaussian process.

def steps(n: int = 6, first: int = 1) -> torch.Tensor:
    return torch.arange(n) % (T - first + 1) + first


@pytest.mark.parametrize("variance", VARIANCES)
@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_the_kl_loss_is_the_prior_plus_t_times_the_weighted_term(prediction, variance):
    """With the posterior the terms are known whatever noise is drawn: L_T + T·w·L_{t−1}."""
    p, x0 = gaussian(prediction, variance), data(n=6)
    t, w = steps(), torch.linspace(0.5, 2.0, 6)
    terms = p.losses_at(posterior_net(x0, prediction, variance), x0, t, w)
    known = torch.tensor([float(LARGE[1] if variance == "fixed_large" else SMALL[1])]).log()
    term = torch.where(t == 1, decoder_closed_form(known.item(), 3), 0.0).double()
    if variance == "fixed_large":
        ratio = C["post_var"][t].clamp_min(1e-300) / C["beta"][t]
        term = torch.where(t == 1, term, 1.5 * (ratio - 1 - ratio.log()))
    vlb = prior_closed_form(x0, float(C["alpha_bar"][T])) + T * w.double() * term
    assert terms["loss"].item() == pytest.approx(vlb.mean().item(), abs=1e-4)
    assert terms["bound_bits"].item() == pytest.approx(vlb.mean().item() / LOG2, abs=1e-4)
    assert torch.allclose(terms["t_loss"].double(), T * term, atol=1e-4)


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_the_mse_loss_regresses_what_the_network_predicts(prediction):
    """L_simple of the true answer shifted by c is c², whatever the parameterisation."""
    p, x0 = gaussian(prediction, "fixed_small", loss=MSE()), data(n=6)
    exact = posterior_net(x0, prediction, "fixed_small")
    t, w = steps(), torch.ones(6)
    for c in (0.0, 0.3):
        torch.manual_seed(0)
        terms = p.losses_at(lambda x_t, ts: exact(x_t, ts) + c, x0, t, w)
        assert terms["loss"].item() == pytest.approx(c**2, abs=1e-5) and terms["mse"].item() == pytest.approx(c**2, abs=1e-5)


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_the_hybrid_loss_is_mse_plus_the_weighted_bound_with_the_mean_detached(prediction):
    """L_hybrid = w·(L_simple + λ·T·L_{t−1}/d), the whole loss at t weighted: its gradient reaches the mean output
    through L_simple only, the variance output through L_vlb only."""
    p, x0 = gaussian(prediction, "learned_range", loss=Hybrid(vlb_weight=0.5)), data(n=6)
    exact = posterior_net(x0, prediction, "learned_range")
    t, w = steps(first=2), torch.linspace(0.5, 2.0, 6)
    shift = torch.tensor([0.3, 0.3, 0.3, 0.0, 0.0, 0.0])
    outputs = []

    def net(x_t, ts):
        outputs.append((exact(x_t, ts) + shift).requires_grad_())
        return outputs[-1]

    torch.manual_seed(0)
    terms = p.losses_at(net, x0, t, w)
    out = outputs[0]
    x_t = p.q_sample(x0, t, noise=torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)))
    kl = p.term(out.detach(), x0, x_t, t).double()
    expected = (w.double() * (0.09 + 0.5 * T * kl / 3)).mean()
    assert terms["mse"].item() == pytest.approx(0.09 * w.mean().item(), abs=1e-5) and (kl > 1e-3).all()
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-4)
    terms["loss"].backward()
    assert torch.allclose(out.grad[:, :3], (w * 2 * 0.3 / 18)[:, None].expand(6, 3), atol=1e-6)
    assert out.grad[:, 3:].abs().sum() > 0


# Binomial diffusion.

def binomial(T: int = 8, prior: float = 0.3, betas=None, **kwargs) -> BinomialDiffusion:
    return BinomialDiffusion(schedules.sohl_dickstein(T) if betas is None else betas, prior=prior, **kwargs)


def bit_bayes(p: BinomialDiffusion, x0: float, x_t: float, t: int) -> float:
    """q(x_{t−1}=1|x_t, x_0) by brute force over both values of x_{t−1}, from the one-step kernels."""
    b, pi = float(p.betas[t]), p.prior_rate
    prev_rate = x0  # q(x_{t−1}=1|x_0), by walking the chain one step at a time
    for s in range(1, t):
        prev_rate = prev_rate * (1 - float(p.betas[s])) + pi * float(p.betas[s])
    joint = [(prev_rate if prev else 1 - prev_rate) * ((prev * (1 - b) + pi * b) if x_t else 1 - (prev * (1 - b) + pi * b))
             for prev in (0, 1)]
    return joint[1] / (joint[0] + joint[1])


def test_the_binomial_posterior_is_bayes_rule_at_every_step_including_the_first():
    p = binomial(betas=schedules.constant(6, 0.2))
    for t in range(1, 7):
        for x0 in (0.0, 1.0):
            for x_t in (0.0, 1.0):
                got = p.q_posterior(torch.tensor([[x0]]), torch.tensor([[x_t]]), torch.tensor([t])).item()
                assert got == pytest.approx(bit_bayes(p, x0, x_t, t), abs=1e-6)


def test_the_x0_prediction_mixes_the_posteriors_by_the_predicted_x0():
    """p(x_{t−1}=1|x_t) = Σ_{x_0} q(x_{t−1}=1|x_t, x_0)·p̃(x_0|x_t); a rate prediction is the rate itself."""
    p, r = binomial(betas=schedules.constant(6, 0.2)), binomial(betas=schedules.constant(6, 0.2), prediction="rate")
    for t in range(1, 7):
        for x_t in (0.0, 1.0):
            for logit in (-1.0, 0.4):
                q1 = torch.sigmoid(torch.tensor(logit)).item()
                expected = q1 * bit_bayes(p, 1.0, x_t, t) + (1 - q1) * bit_bayes(p, 0.0, x_t, t)
                args = torch.tensor([[logit]]), torch.tensor([[x_t]]), torch.tensor([t])
                assert p.p_rate(*args).item() == pytest.approx(expected, abs=1e-6)
                assert r.p_rate(*args).item() == pytest.approx(q1, abs=1e-6)


def bernoulli_kl(a: float, b: float) -> float:
    return sum(p * math.log(p / q) for p, q in ((a, b), (1 - a, 1 - b)) if p > 0)


def test_the_binomial_prior_and_decoder_terms_are_their_closed_forms():
    """L_T = KL(B(x_0·ᾱ_T + π(1−ᾱ_T)) ‖ B(π)) per bit (not 0 when ᾱ_T > 0); the decoder −log p(x_0|x_1) per bit."""
    p = binomial(betas=schedules.constant(5, 0.3), prior=0.2)
    ab_T = 0.7**5
    x0 = torch.tensor([[0.0, 1.0, 1.0]])
    expected = bernoulli_kl(ab_T * 0 + 0.2 * (1 - ab_T), 0.2) + 2 * bernoulli_kl(ab_T + 0.2 * (1 - ab_T), 0.2)
    assert p.prior_term(x0).item() == pytest.approx(expected, rel=1e-5)
    assert binomial(T=5).prior_term(x0).abs().item() < 1e-6  # β_T = 1: x_T is the prior itself
    rate = binomial(betas=schedules.constant(5, 0.3), prior=0.2, prediction="rate")
    out, x1 = torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([[1.0, 0.0, 1.0]])
    q = torch.sigmoid(out)[0].tolist()
    decoder = -(math.log(1 - q[0]) + math.log(q[1]) + math.log(q[2]))
    assert rate.term(out, x0, x1, torch.tensor([1])).item() == pytest.approx(decoder, rel=1e-5)
    kl = sum(bernoulli_kl(bit_bayes(rate, float(a), float(b), 3), float(c)) for a, b, c in zip(x0[0], x1[0], q))
    assert rate.term(out, x0, x1, torch.tensor([3])).item() == pytest.approx(kl, rel=1e-5)


@pytest.mark.parametrize("prediction", ["x0", "rate"])
def test_the_true_binomial_posterior_makes_every_kl_term_zero(prediction):
    p = binomial(betas=schedules.constant(6, 0.2), prediction=prediction)
    x0 = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    x_t = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    for t in range(1, 7):
        ts = torch.tensor([t])
        out = (x0 * 60 - 30) if prediction == "x0" else torch.logit(p.q_posterior(x0, x_t, ts), eps=1e-7)
        assert p.term(out, x0, x_t, ts).item() == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("prediction", ["x0", "rate"])
def test_the_exact_reverse_process_of_bernoulli_bits_has_their_true_nll_as_bound(prediction):
    """For x_0 ~ B(r) and β_T = 1, the exact reverse step Σ_{x_0} q(x_{t−1}|x_t, x_0)·q(x_0|x_t) makes the bound the
    true NLL −log B(x_0; r) for each bit; E over x_t is a sum over its two values."""
    T, r = 7, 0.35
    p = binomial(T=T, prior=0.4, prediction=prediction)
    x0 = torch.tensor([[0.0], [1.0]])

    def net(x_t, t):
        like = [torch.where(x_t > 0.5, p.q_rate(torch.full_like(x_t, v), t), 1 - p.q_rate(torch.full_like(x_t, v), t))
                for v in (0.0, 1.0)]
        post_x0 = r * like[1] / (r * like[1] + (1 - r) * like[0])
        if prediction == "x0":
            return torch.logit(post_x0)
        prev1 = [p.q_posterior(torch.full_like(x_t, v), x_t, t) for v in (0.0, 1.0)]
        return torch.logit(post_x0 * prev1[1] + (1 - post_x0) * prev1[0])

    total = p.prior_term(x0).double()
    for t in range(1, T + 1):
        ts = torch.full((2,), t)
        rate = p.q_rate(x0, ts)
        for x_t, weight in ((torch.ones_like(x0), rate), (torch.zeros_like(x0), 1 - rate)):
            total += weight[:, 0].double() * p.term(net(x_t, ts), x0, x_t, ts).double()
    assert total.tolist() == pytest.approx([-math.log(1 - r), -math.log(r)], abs=1e-5)


def test_the_binomial_kl_loss_is_the_prior_plus_t_times_the_weighted_term():
    p, x0 = binomial(betas=schedules.constant(6, 0.2), prediction="rate"), torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    t, w = torch.tensor([2, 5]), torch.tensor([0.5, 2.0])
    out = torch.tensor([[0.3, -0.2], [1.0, 0.0]])
    torch.manual_seed(0)
    terms = p.losses_at(lambda x_t, ts: out * ts[:, None], x0, t, w)
    torch.manual_seed(0)
    x_t = p.q_sample(x0, t)
    out = out * t[:, None]
    term = p.term(out, x0, x_t, t)
    vlb = p.prior_term(x0) + 6 * w * term
    assert terms["loss"].item() == pytest.approx(vlb.mean().item(), rel=1e-6)
    assert terms["bound_bits"].item() == pytest.approx(vlb.mean().item() / LOG2, rel=1e-6)
    hybrid = binomial(betas=schedules.constant(6, 0.2), loss=Hybrid(vlb_weight=0.25))
    torch.manual_seed(0)
    terms = hybrid.losses_at(lambda x_t, ts: out, x0, t, w)
    ce = -(x0 * torch.sigmoid(out).log() + (1 - x0) * torch.sigmoid(-out).log()).sum(1)
    assert terms["ce"].item() == pytest.approx((w * ce).mean().item(), rel=1e-5)
    vlb = hybrid.prior_term(x0) + 6 * w * hybrid.term(out, x0, x_t, t)
    assert terms["loss"].item() == pytest.approx((vlb + 0.25 * w * ce).mean().item(), rel=1e-5)


LOSSES = [("gaussian", KL()), ("gaussian", MSE()), ("gaussian", Hybrid(vlb_weight=0.5)), ("binomial", KL()),
          ("binomial", Hybrid(vlb_weight=0.5))]


@pytest.mark.parametrize("kind,loss", LOSSES, ids=[f"{k}-{loss.name}" for k, loss in LOSSES])
def test_every_loss_under_importance_sampling_has_its_uniform_t_expectation(kind, loss):
    """Σ_t p_t·loss(t, w_t = 1/(T·p_t)) = (1/T)·Σ_t loss(t, w = 1), by enumeration over t with the same noise at each
    t, for a p far from uniform; the gradient's expectation too. The loss stands for its uniform-t value, so a
    sampler that moves its mass during training cannot change what is minimised (only how noisily)."""
    torch.manual_seed(0)
    if kind == "gaussian":
        variance = "fixed_small" if isinstance(loss, MSE) else "learned_range"
        p, x0, width = gaussian("epsilon", variance, loss=loss), data(n=4, d=2), 2 if isinstance(loss, MSE) else 4
    else:
        p, x0, width = binomial(T=T, prior=0.3, loss=loss), torch.bernoulli(torch.full((4, 5), 0.4)), 5
    layer = torch.nn.Linear(x0.shape[1] + 1, width)
    net = lambda x_t, ts: layer(torch.cat([x_t, ts[:, None].float() / T], -1))  # noqa: E731
    probs = torch.softmax(torch.linspace(-2.0, 1.5, T), 0)  # p_1 ≈ 0.02, p_T ≈ 0.4

    def loss_and_grad(t: int, w: float) -> tuple[float, torch.Tensor]:
        layer.zero_grad()
        torch.manual_seed(t)  # the same x_t for both weights
        value = p.losses_at(net, x0, torch.full((len(x0),), t), torch.full((len(x0),), w))["loss"]
        value.backward()
        return value.item(), layer.weight.grad.clone()

    weighted = [loss_and_grad(t, 1 / (T * probs[t - 1].item())) for t in range(1, T + 1)]
    uniform = [loss_and_grad(t, 1.0) for t in range(1, T + 1)]
    expected = sum(v for v, _ in uniform) / T
    assert sum(q * v for q, (v, _) in zip(probs.tolist(), weighted)) == pytest.approx(expected, rel=1e-5)
    assert abs(expected - sum(v for v, _ in weighted) / T) > 1e-2 * abs(expected)  # p matters per t
    grad = sum(q * g for q, (_, g) in zip(probs.tolist(), weighted))
    assert torch.allclose(grad, sum(g for _, g in uniform) / T, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind,loss", LOSSES, ids=[f"{k}-{loss.name}" for k, loss in LOSSES])
def test_the_importance_sampler_learns_the_size_of_the_loss_it_weights(kind, loss):
    """Every loss is w·ℓ_t (plus L_T for the bounds), and the sampler's history holds ℓ_t unweighted: T·L_{t−1} for kl,
    L_simple for mse (replayed here from the same noise), L_simple + λ·T·L_{t−1}/d for hybrid, T·L_{t−1} + λ·CE for
    binary hybrid."""
    from diffusion_lightning.diffusion.timesteps import ImportanceSampler

    objective = type(loss)(t_sampler=lambda T: ImportanceSampler(T, history=1))
    if kind == "gaussian":
        variance = "fixed_small" if isinstance(loss, MSE) else "learned_range"
        p, x0, width = gaussian("epsilon", variance, loss=objective), data(n=40, d=2), 2 if isinstance(loss, MSE) else 4
    else:
        p, x0, width = binomial(T=T, prior=0.3, loss=objective), torch.bernoulli(torch.full((40, 5), 0.4)), 5
    net = lambda x_t, ts: torch.sin(x_t.sum(1, keepdim=True) + ts[:, None]).expand(-1, width)  # noqa: E731
    torch.manual_seed(1)
    p.training_losses(net, x0)  # uniform t while the history fills
    torch.manual_seed(1)
    t = torch.randint(1, T + 1, (len(x0),))
    noise = torch.randn_like(x0)
    torch.manual_seed(1)
    torch.randint(1, T + 1, (len(x0),))
    w = torch.linspace(0.5, 2.0, len(x0))
    terms = p.losses_at(net, x0, t, w)
    ell = terms["t_loss"].double()
    prior = 0 if kind == "gaussian" and not isinstance(loss, KL) else p.prior_term(x0).double()
    assert terms["loss"].item() == pytest.approx((prior + w * ell).mean().item(), rel=1e-5)
    last = {step: i for i, step in enumerate(t.tolist())}
    assert torch.allclose(p.t_sampler.losses[list(last), 0], terms["t_loss"][list(last.values())])
    if isinstance(loss, MSE):
        assert torch.allclose(ell, (net(p.q_sample(x0, t, noise=noise), t) - noise).pow(2).mean(1).double(), atol=1e-6)


# Continuous-time Gaussian diffusion.

def continuous(gamma_0: float = -6.0, gamma_1: float = 4.0, **kwargs) -> ContinuousGaussianDiffusion:
    return ContinuousGaussianDiffusion(BETAS, gamma_0=gamma_0, gamma_1=gamma_1, **kwargs)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_the_continuous_prior_and_decoder_terms_are_their_closed_forms():
    """L_prior = ½·Σ(σ_1² + α_1²·x² − 1 − log σ_1²) with α² = sigmoid(−γ_1); the decoder E_{z_0}[−log N(x; z_0/α_0,
    e^{γ_0})], a quadratic in the noise, averaged over ε = ±1."""
    p, x0 = continuous(), data()
    s2, a2 = sigmoid(4.0), sigmoid(-4.0)
    prior = 0.5 * (s2 + a2 * x0.double() ** 2 - 1 - math.log(s2)).sum(1)
    assert torch.allclose(p.prior_term(x0).double(), prior, rtol=1e-4, atol=1e-6)
    a0, s0 = math.sqrt(sigmoid(6.0)), math.sqrt(sigmoid(-6.0))
    decoder = sum(0.5 * (LOG_2PI - 6.0 + ((a0 * x0.double() + s0 * e) / a0 - x0.double()) ** 2 / math.exp(-6.0)).sum(1)
                  for e in (1.0, -1.0)) / 2
    assert torch.allclose(p.decoder_term(x0).double(), decoder, rtol=1e-5)


def test_the_continuous_schedule_and_its_times():
    """γ(t) = γ_0 + (γ_1 − γ_0)·t, α_t² = sigmoid(−γ), σ_t² = sigmoid(γ); integer step i is t = i/T, and the network
    is told t·T."""
    p = continuous(sample_steps=4)
    assert [g.item() for g in p.schedule.ends()] == pytest.approx([-6.0, 4.0], abs=1e-5)
    t = torch.tensor([0.0, 0.25, 1.0])
    gamma, dgamma = p.schedule(t)
    assert gamma.tolist() == pytest.approx([-6.0, -3.5, 4.0], abs=1e-5) and dgamma.tolist() == pytest.approx([10.0] * 3)
    like = torch.zeros(4, 2)
    for ts in (torch.tensor([0.0, 0.25, 0.5, 1.0]), torch.tensor([0, 1, 2, 4])):
        alpha, sigma, _ = p.alpha_sigma(ts, like)
        expected = [-6.0, -3.5, -1.0, 4.0]
        assert alpha[:, 0].tolist() == pytest.approx([math.sqrt(sigmoid(-g)) for g in expected], rel=1e-5)
        assert sigma[:, 0].tolist() == pytest.approx([math.sqrt(sigmoid(g)) for g in expected], rel=1e-5)
    seen = []
    p.predict_eps(lambda z, s: seen.append(s) or z, like, torch.tensor([0.0, 0.25, 0.5, 1.0]))
    assert seen[0].tolist() == [0.0, 1.0, 2.0, 4.0]
    ab = torch.tensor([sigmoid(-g) for g in (-3.5, -1.0, 1.5, 4.0)], dtype=torch.float64)
    betas = 1 - ab / torch.cat([torch.ones(1, dtype=torch.float64), ab[:-1]])
    assert torch.allclose(p.schedule.betas().detach(), betas, rtol=1e-6) and torch.allclose(p.schedule.initial, betas)


def test_the_continuous_diffusion_term_is_its_closed_form():
    """½·γ'(t)·(‖ε − ε̂‖² − α_t⁴·(‖ε‖² − d)) for ε̂ = ε + c: ½·γ'·(d·c² − α_t⁴·(‖ε‖² − d))."""
    p, x0 = continuous(), data()
    t = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9])
    gamma = -6.0 + 10.0 * t.double()
    alpha, sigma = torch.sigmoid(-gamma).sqrt()[:, None], torch.sigmoid(gamma).sqrt()[:, None]
    eps = []

    def net(z, steps):
        eps.append((z.double() - alpha * x0.double()) / sigma)
        return (eps[-1] + 0.2).float()

    term = p.diffusion_term(net, x0, t, generator=torch.Generator().manual_seed(0)).double()
    sq = eps[0].pow(2).sum(1)
    expected = 0.5 * 10.0 * (3 * 0.04 - alpha[:, 0] ** 4 * (sq - 3))
    assert torch.allclose(term, expected, rtol=1e-4, atol=1e-4)


def test_the_continuous_training_loss_is_the_sum_of_its_three_terms():
    p, x0 = continuous(), data(n=64)
    torch.manual_seed(0)
    terms = p.training_losses(lambda z, s: torch.zeros_like(z), x0)
    # ε̂ = 0: the diffusion term is ½·γ'·(‖ε‖²·(1 − α_t⁴) + d·α_t⁴), between ½·γ'·d·α⁴ and unbounded; its mean over a
    # low-discrepancy grid of t is within the sampling error of ½·γ'·d·∫(1 − α⁴ + α⁴)dt = ½·γ'·d.
    assert terms["loss"].item() == pytest.approx(
        (p.prior_term(x0).mean() + p.decoder_term(x0).mean()).item() + terms["diffusion_bits"].item() * LOG2, rel=1e-5)
    assert terms["diffusion_bits"].item() * LOG2 == pytest.approx(0.5 * 10.0 * 3, rel=0.1)
    assert terms["bound_bits"].item() == pytest.approx(terms["loss"].item() / LOG2, rel=1e-6)
    assert (terms["gamma_0"].item(), terms["gamma_1"].item()) == pytest.approx((-6.0, 4.0), abs=1e-5)


def test_the_continuous_bound_of_a_known_predictor_per_part():
    """The bound's parts: index 0 the prior term, index 1 the decoder plus the first stratum, the rest strata."""
    p, x0 = continuous(eval_t=4), data(n=3)
    bits, per_t = p.bound(lambda z, s: torch.zeros_like(z), x0, generator=torch.Generator().manual_seed(0))
    assert per_t[0].item() == pytest.approx(p.prior_term(x0).mean().item() / LOG2, rel=1e-6)
    assert per_t[1].item() > p.decoder_term(x0)[0].item() / LOG2
    assert bits.mean().item() == pytest.approx(per_t.sum().item(), rel=1e-9)


def test_the_continuous_training_times_are_one_shifted_grid():
    """t_i = (u + i/n) mod 1 with one u ~ U(0, 1) per batch (VDM's low-discrepancy sampler); the network sees t·T."""
    p, x0 = continuous(sample_steps=10), data(n=4)
    torch.manual_seed(3)
    u = torch.rand(())
    seen = []
    torch.manual_seed(3)
    p.training_losses(lambda z, s: seen.append(s) or torch.zeros_like(z), x0)
    assert torch.allclose(seen[0], torch.remainder(u + torch.arange(4) / 4, 1.0) * 10)


# Shared helpers.

def test_chunks_of_t_cover_every_step_once_in_bounded_batches():
    chunks = list(chunks_of_t(10, 4, max_rows=8))
    assert [c.tolist() for c in chunks] == [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]
    assert [c.tolist() for c in chunks_of_t(3, 100, max_rows=8)] == [[1], [2], [3]]
    assert [c.tolist() for c in chunks_of_t(5, 1)] == [[1, 2, 3, 4, 5]]


def test_the_objectives_and_schedules_have_the_papers_defaults():
    """λ = 0.001 and s = 0.008 (Nichol & Dhariwal 2021), VDM's log SNR ±9.2, a history of 10 losses per t."""
    from diffusion_lightning.diffusion.timesteps import ImportanceSampler

    assert Hybrid().vlb_weight == 1e-3 and KL().name == "kl" and MSE().name == "mse" and Hybrid().name == "hybrid"
    assert torch.equal(schedules.cosine(10), schedules.cosine(10, s=0.008, max_beta=0.999))
    assert torch.equal(schedules.log_snr_linear(10), schedules.log_snr_linear(10, 9.2, -9.2))
    assert ImportanceSampler(4).losses.shape == (5, 10) and ImportanceSampler(4).uniform_mix == 0.01


# Sampling, devices, generators and the first steps.

def test_each_sampling_step_is_its_closed_form_draw():
    """x_{t−1} = mean + e^{logvar/2}·z; x_T ~ N(0, I); binary x_{t−1} ~ B(rate), x_T ~ B(π): the same draws as the
    same generator gives directly."""
    p, x0 = gaussian("mean", "learned"), data()
    ts, x_t = draw(p, x0, 3)
    out = torch.cat([x0 + 1, torch.full_like(x0, -2.0)], -1)
    z = torch.randn(x0.shape, generator=torch.Generator().manual_seed(5))
    got = p.p_sample(out, x_t, ts, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(got, x0 + 1 + math.exp(-1.0) * z)
    assert torch.equal(p.prior_sample((4, 3), generator=torch.Generator().manual_seed(6)),
                       torch.randn((4, 3), generator=torch.Generator().manual_seed(6)))
    b = binomial(betas=schedules.constant(6, 0.2), prior=0.3, prediction="rate")
    out, x_t = torch.linspace(-2, 2, 200).view(20, 10), torch.ones(20, 10)
    assert torch.equal(b.p_sample(out, x_t, torch.full((20,), 2), generator=torch.Generator().manual_seed(7)),
                       torch.bernoulli(torch.sigmoid(out), generator=torch.Generator().manual_seed(7)))
    assert torch.equal(b.prior_sample((20, 10), generator=torch.Generator().manual_seed(8)),
                       torch.bernoulli(torch.full((20, 10), 0.3), generator=torch.Generator().manual_seed(8)))
    assert torch.equal(b.q_sample(x_t, torch.full((20,), 2), generator=torch.Generator().manual_seed(9)),
                       torch.bernoulli(b.q_rate(x_t, torch.full((20,), 2)), generator=torch.Generator().manual_seed(9)))


def test_sampling_with_a_learned_schedule_walks_its_current_chain():
    from diffusion_lightning.diffusion.learned_schedule import LearnedSchedule

    learned = GaussianDiffusion(LearnedSchedule(T, lambda T: BETAS), prediction="mean", variance="learned")
    with torch.no_grad():
        learned.schedule.u.add_(0.5)
    fixed = GaussianDiffusion(learned.schedule.betas().detach(), prediction="mean", variance="learned")
    net = lambda x, t: torch.cat([0.9 * x, torch.full_like(x, -1.0)], -1)  # noqa: E731
    a, frames = learned.sample(net, (5, 2), (T, 2), generator=torch.Generator().manual_seed(0))
    b, _ = fixed.sample(net, (5, 2), generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and set(frames) == {0, 2, T}
    bits, _ = learned.bound(net, data(n=4, d=2), torch.Generator().manual_seed(1))
    assert torch.equal(bits, fixed.bound(net, data(n=4, d=2), torch.Generator().manual_seed(1))[0])


def test_every_draw_follows_the_device_of_its_data():
    """On the meta device (shapes only, no data) every tensor a process makes must be made there too, as on a GPU."""
    x0 = torch.zeros(4, 2, device="meta")
    for p, width in ((gaussian("epsilon", "learned_range"), 4), (gaussian("x0", "fixed_small", loss=MSE()), 2),
                     (binomial(), 2)):
        p.to("meta")
        net = lambda x, t: torch.zeros(len(x), width, device=x.device)  # noqa: E731
        terms = p.training_losses(net, x0)
        x, _ = p.sample(net, (3, 2))
        assert terms["loss"].device.type == x.device.type == p.prior_term(x0).device.type == "meta"
        assert p.q_sample(x0, torch.ones(4, dtype=torch.long, device="meta")).device.type == "meta"
    c = continuous().to("meta")
    assert c.training_losses(lambda z, s: torch.zeros_like(z), x0)["loss"].device.type == "meta"


@pytest.mark.parametrize("steps", [1, 2])
def test_one_or_two_steps_clip_the_first_posterior_variance(steps):
    """T = 1 has no β̃_2: σ_1² = β_1 for both fixed variances; T = 2 uses β̃_2."""
    betas = BETAS[:steps]
    c = closed_forms(betas)
    expected = c["beta"][1] if steps == 1 else c["post_var"][2]
    for variance in ("fixed_small", "fixed_large"):
        p, x0 = GaussianDiffusion(betas, prediction="x0", variance=variance), data()
        ts, x_t = torch.ones(len(x0), dtype=torch.long), x0 + 1
        assert torch.allclose(p.p_mean_logvar(x0, x_t, ts)[1].double(), expected.log().expand_as(x0), atol=1e-6)
        assert p.T == steps and p.bound(lambda x, t: x0[:1].expand_as(x), x0[:1])[1].shape == (steps + 1,)


def test_training_draws_t_from_the_sampler_and_teaches_it_the_terms():
    from diffusion_lightning.diffusion.timesteps import ImportanceSampler

    p, x0 = gaussian("x0", "fixed_small", loss=KL(t_sampler=lambda T: ImportanceSampler(T, history=1))), data(n=200)
    torch.manual_seed(0)
    terms = p.training_losses(posterior_net(x0, "x0", "fixed_small"), x0)
    assert "t_loss" not in terms and p.t_sampler.counts[1:].sum() == T  # 200 draws of 6 steps: every step seen
    seen = p.t_sampler.counts[1:] > 0
    expected = T * torch.where(torch.arange(1, T + 1) == 1, decoder_closed_form(math.log(SMALL[1]), 3), 0.0)
    assert torch.allclose(p.t_sampler.losses[1:, 0][seen].double(), expected[seen].double(), atol=1e-4)
    assert p.t_sampler.probabilities() is not None


def test_the_null_likelihood_of_bits_is_per_point():
    b, x0 = binomial(prior=0.2), torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    assert b.null_nll(x0).tolist() == pytest.approx([-math.log(0.8) - math.log(0.2), -2 * math.log(0.2)], rel=1e-6)


def test_draws_are_made_in_the_datas_dtype_from_the_generator_given():
    """float64 data is noised with float64 draws of the given generator (another stream than float32's)."""
    x0, g = data().double(), lambda: torch.Generator().manual_seed(11)  # noqa: E731
    p, ts = gaussian("mean", "fixed_small"), torch.full((5,), 3)
    z = torch.randn(x0.shape, generator=g(), dtype=torch.float64)
    assert torch.equal(p.q_sample(x0, ts, generator=g()), p.q_sample(x0, ts, noise=z))
    mean, logvar = p.p_mean_logvar(x0, x0, ts)
    assert torch.equal(p.p_sample(x0, x0, ts, generator=g()), mean + torch.exp(0.5 * logvar) * z)
    c, t = continuous(), torch.full((5,), 0.5)
    seen = []
    c.diffusion_term(lambda zt, s: seen.append(zt) or zt, x0, t, generator=g())
    alpha, sigma, _ = c.alpha_sigma(t, x0)
    assert torch.equal(seen[0], alpha * x0 + sigma * z)


@pytest.mark.parametrize("variance", ["learned", "learned_range"])
def test_a_learned_variance_is_the_last_axis_of_image_shaped_outputs(variance):
    """Data (n, 1, d): the network's mean and variance halves are split on the last axis, as the networks concatenate."""
    p, x0 = gaussian("mean", variance, loss=Hybrid(vlb_weight=0.5)), data().view(5, 1, 3)
    flat_net = posterior_net(x0.view(5, 3), "mean", variance)
    net = lambda x_t, ts: flat_net(x_t.view(5, 3), ts).view(5, 1, 6)  # noqa: E731
    ts, x_t = torch.full((5,), 3), p.q_sample(x0, torch.full((5,), 3))
    assert p.term(net(x_t, ts), x0, x_t, ts).abs().max() < 2e-5
    torch.manual_seed(0)
    terms = p.losses_at(lambda x_t, ts: net(x_t, ts) + torch.tensor([0.3, 0, 0, 0, 0, 0]).view(1, 1, 6), x0, ts, torch.ones(5))
    assert terms["mse"].item() == pytest.approx(0.09 / 3, abs=1e-5) and terms["loss"].item() > terms["mse"].item()


def test_the_processes_keep_what_they_are_given_and_their_defaults():
    from types import SimpleNamespace

    from diffusion_lightning.diffusion.learned_schedule import LearnedSchedule

    loss = KL()
    c = ContinuousGaussianDiffusion(BETAS, loss=loss)
    assert c.loss is loss and (c.T, c.eval_t) == (100, 100)
    assert set(c.state_dict()) == {"schedule.gamma_0", "schedule.width"}
    assert binomial(prior=0.5).prior_rate == BinomialDiffusion(schedules.sohl_dickstein(4)).prior_rate == 0.5
    assert binomial(prior="data", data=SimpleNamespace(kind="binary", mean_activity=lambda: 0.125)).prior_rate == 0.125
    with pytest.raises(ValueError, match=r"prior rate π = 0 must lie in \(0, 1\)"):
        binomial(prior=0)
    with pytest.raises(ValueError, match="process=gaussian_continuous learns its own log-SNR end points"):
        ContinuousGaussianDiffusion(LearnedSchedule(4, schedules.linear))
    with pytest.raises(ValueError, match="loss=mse has none: use loss=kl"):
        continuous(loss=MSE())
    with pytest.raises(ValueError, match="bit flips cannot carry its gradient"):
        BinomialDiffusion(LearnedSchedule(4, schedules.linear))


def test_schedules_given_as_lists_are_taken_in_float64():
    betas = schedules.sohl_dickstein(1000)
    assert torch.equal(BinomialDiffusion(betas.tolist()).alpha_bar, BinomialDiffusion(betas).alpha_bar)
    a, b = ContinuousGaussianDiffusion(BETAS.tolist()), ContinuousGaussianDiffusion(BETAS)
    assert torch.equal(a.schedule.initial, b.schedule.initial)


def test_the_continuous_start_schedule_is_kept_in_float64():
    p = continuous(gamma_0=-6.1, gamma_1=4.3, sample_steps=3)
    gamma = torch.tensor([-6.1, -6.1 + 10.4 / 3, -6.1 + 20.8 / 3, 4.3], dtype=torch.float64)
    ab = torch.sigmoid(-gamma)
    ab[0] = 1.0
    assert torch.allclose(p.schedule.initial, 1 - ab[1:] / ab[:-1], rtol=1e-12, atol=0)


# Refusals name the key to change.

def test_every_process_refuses_data_of_the_other_kind():
    from types import SimpleNamespace

    binary, continuous_data = SimpleNamespace(kind="binary"), SimpleNamespace(kind="continuous")
    for make in (lambda d: gaussian("epsilon", "fixed_small", data=d), lambda d: continuous(data=d)):
        with pytest.raises(ValueError, match="needs continuous data, and data is binary; use process=binomial"):
            make(binary)
        make(continuous_data)
    with pytest.raises(ValueError, match="process=binomial needs binary data, and data is continuous; use process=gaussian"):
        binomial(data=continuous_data)


def test_unknown_choices_and_losses_are_refused_with_their_keys():
    from diffusion_lightning.diffusion.objectives import Objective

    with pytest.raises(ValueError, match=r"process\.prediction='noise' is not known; choose one of epsilon, x0, mean"):
        gaussian("noise", "fixed_small")
    with pytest.raises(ValueError, match=r"process\.prediction='mean' is not known; choose one of x0, rate"):
        binomial(prediction="mean")
    with pytest.raises(ValueError, match="loss=objective is not known to Gaussian diffusion; choose kl, mse or hybrid"):
        gaussian("epsilon", "fixed_small", loss=Objective())
    with pytest.raises(ValueError, match="loss=objective is not known to binomial diffusion; choose kl or hybrid"):
        binomial(loss=Objective())
    with pytest.raises(ValueError, match=r"process\.prior=data needs the data"):
        binomial(prior="data")
    with pytest.raises(ValueError, match=r"process\.gamma_0=1 must lie below process\.gamma_1=1"):
        continuous(gamma_0=1.0, gamma_1=1.0)
    for key in ("sample_steps", "eval_t"):
        with pytest.raises(ValueError, match=rf"process\.{key}=0 must be a whole number ≥ 1"):
            continuous(**{key: 0})
    assert gaussian("epsilon", "learned", loss=Hybrid()).out_dim(3) == 6
    with pytest.raises(ValueError, match="loss=mse trains only the mean, so process.variance=learned would stay "
                       "untrained; use loss=hybrid or loss=kl, or process.variance=fixed_small$"):
        gaussian("epsilon", "learned", loss=MSE())
    with pytest.raises(ValueError, match="loss=hybrid trains the variance through L_vlb, but process.variance="
                       "fixed_large is fixed; use process.variance=learned_range, or loss=mse$"):
        gaussian("epsilon", "fixed_large", loss=Hybrid())
    with pytest.raises(ValueError, match=r"loss.vlb_weight=-1 must be > 0 \(λ of L_vlb, which trains the variance\); "
                       "e.g. loss.vlb_weight=0.001$"):
        Hybrid(vlb_weight=-1)
    from diffusion_lightning.diffusion.learned_schedule import LearnedSchedule

    with pytest.raises(ValueError, match=r"drive it to destroy the signal at once \(ε is easy to predict from pure "
                       r"noise\); use loss=kl, or a fixed schedule=linear$"):
        GaussianDiffusion(LearnedSchedule(T, lambda T: BETAS), loss=MSE())


@pytest.mark.parametrize("T, K", [(100, 32), (1000, 32), (40, 32), (33, 32), (5, 2)])
def test_strata_cover_1_to_T_once_with_t_1_alone_and_widen(T, K):
    edges = strata_edges(T, K).tolist()
    assert len(edges) == K + 1 and edges[0] == 0 and edges[1] == 1 and edges[-1] == T
    widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
    assert min(widths) >= 1 and widths == sorted(widths)  # every t in exactly one stratum, the strata widening
    if T > K:
        assert widths[-1] > 1


def test_known_strata_edges_and_too_few_strata_refused():
    assert strata_edges(100, 4).tolist() == [0, 1, 10, 32, 100]  # round(100^(k/4)): 10, 31.6, 100
    with pytest.raises(ConfigError, match=r"^val_strata=1 cannot hold t = 1 alone and the rest of 1\.\.10: give at least 2$"):
        strata_edges(10, 1)


@pytest.mark.parametrize("process", ["gaussian", "gaussian_continuous"])
def test_the_bound_per_t_of_a_run_sums_to_its_test_bound_over_every_batch(make_cfg, tmp_path, process):
    """bound_per_t.json averages the terms over the whole test split (three batches of 100, 100 and 56 points), not
    over its last batch: its sum is the test bound."""
    run(make_cfg("debug=fast", f"process={process}", "T=20", "logger=none", "data.eval_batch_size=100",
                 "callbacks.figures=null", "callbacks.sample_metrics=null"))
    bound = json.loads((tmp_path / "summary.json").read_text())["test/nll_bound_bits"]
    assert sum(json.loads((tmp_path / "bound_per_t.json").read_text())["bits"]) == pytest.approx(bound, rel=1e-6)
