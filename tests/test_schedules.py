import math

import pytest
import torch

from diffusion_lightning.diffusion import schedules

GAUSSIAN = ["linear", "quadratic", "sigmoid", "constant", "cosine"]


@pytest.mark.parametrize("name", GAUSSIAN)
@pytest.mark.parametrize("T", [1, 40, 1000, 10_000])
def test_betas_in_range_and_alpha_bar_decreasing(name, T):
    betas = getattr(schedules, name)(T)
    assert betas.shape == (T,) and betas.dtype == torch.float64
    schedules.check_betas(betas)
    alpha_bar = torch.cumprod(1 - betas, 0)
    assert (alpha_bar[1:] < alpha_bar[:-1]).all()


@pytest.mark.parametrize("name", ["linear", "quadratic", "sigmoid", "constant", "cosine"])
@pytest.mark.parametrize("T", [40, 100, 1000, 10_000])
def test_default_ranges_destroy_the_signal_at_any_T(name, T):
    """The defaults scale with T so that the prior N(0, I) fits x_T whatever T is."""
    assert torch.prod(1 - getattr(schedules, name)(T)) < 1e-3


def test_linear_endpoints_and_overrides():
    betas = schedules.linear(1000)
    assert betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02)
    betas = schedules.linear(100, beta_start=1e-5, beta_end=1e-2)
    assert betas[0] == pytest.approx(1e-5) and betas[-1] == pytest.approx(1e-2)
    q = schedules.quadratic(100, 1e-4, 0.04)
    assert q[0] == pytest.approx(1e-4) and q[-1] == pytest.approx(0.04)


def test_cosine_matches_the_formula():
    T, s = 1000, 0.008
    alpha_bar = torch.cumprod(1 - schedules.cosine(T, s=s), 0)
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (1, 10, 500, 900):
        assert alpha_bar[t - 1] == pytest.approx(f(t) / f(0), rel=1e-9)
    assert schedules.cosine(T).max() <= 0.999


def test_sohl_dickstein_keeps_exactly_the_remaining_fraction():
    T = 2000
    alpha_bar = torch.cumprod(1 - schedules.sohl_dickstein(T), 0)
    t = torch.arange(1, T + 1, dtype=torch.float64)
    assert torch.allclose(alpha_bar, (T - t) / T, atol=1e-12)
    schedules.check_betas(schedules.sohl_dickstein(T), last_may_be_one=True)


@pytest.mark.parametrize("betas", [torch.tensor([0.1, 1.5]), torch.tensor([0.0, 0.1]), torch.tensor([0.1, -0.2])])
def test_check_betas_names_the_bad_step(betas):
    with pytest.raises(ValueError, match=r"β_\d+ = .* outside \(0, 1\)"):
        schedules.check_betas(betas)


def test_gaussian_schedule_may_not_end_on_one():
    with pytest.raises(ValueError, match="β_2000"):
        schedules.check_betas(schedules.sohl_dickstein(2000))


def test_every_schedule_at_its_known_points():
    """Endpoints and midpoints of each formula, and the defaults DDPM's 1e-4..0.02 rescaled by 1000/T."""
    s6 = 1 / (1 + math.exp(-6))
    sig = schedules.sigmoid(3, beta_start=0.01, beta_end=0.2)
    assert sig.tolist() == pytest.approx([0.01 + 0.19 * (1 - s6), 0.01 + 0.19 * 0.5, 0.01 + 0.19 * s6], rel=1e-12)
    assert schedules.sigmoid(3)[0].item() == pytest.approx(1e-4 * 1000 / 3 + (0.999 - 1e-4 * 1000 / 3) * (1 - s6))
    assert schedules.linear(200).tolist()[::199] == pytest.approx([5e-4, 0.1]) and schedules.linear(10)[-1] == 0.999
    assert schedules.quadratic(3, 0.01, 0.09).tolist() == pytest.approx([0.01, 0.04, 0.09], rel=1e-12)
    assert schedules.constant(40).tolist() == [0.25] * 40 and schedules.constant(10).tolist() == [0.5] * 10
    assert schedules.constant(3, beta=0.2).tolist() == [0.2] * 3
    ab = [math.cos((t / 4 + 0.1) / 1.1 * math.pi / 2) ** 2 for t in range(5)]
    assert schedules.cosine(4, s=0.1, max_beta=0.9).tolist() == pytest.approx(
        [min(1 - ab[t] / ab[t - 1], 0.9) for t in range(1, 5)], rel=1e-12)
    assert schedules.cosine(4, s=0.1, max_beta=0.9)[-1] == 0.9 and schedules.sohl_dickstein(4).tolist() == [
        0.25, 1 / 3, 0.5, 1.0]


def test_log_snr_linear_with_one_or_two_steps_and_its_refusal():
    lam = lambda b: torch.log(torch.cumprod(1 - b, 0) / (1 - torch.cumprod(1 - b, 0)))  # noqa: E731
    assert lam(schedules.log_snr_linear(1, 2.0, -3.0)).tolist() == pytest.approx([2.0])
    assert lam(schedules.log_snr_linear(2, 2.0, -3.0)).tolist() == pytest.approx([2.0, -3.0])
    with pytest.raises(ValueError, match="schedule.log_snr_end=1.0 must be below schedule.log_snr_start=1.0"):
        schedules.log_snr_linear(4, 1.0, 1.0)


def test_check_betas_allows_one_only_at_the_last_step_of_binomial_diffusion():
    schedules.check_betas(torch.tensor([0.5, 1.0], dtype=torch.float64), last_may_be_one=True)
    with pytest.raises(ValueError, match="β_1 = 1, outside"):
        schedules.check_betas(torch.tensor([1.0, 1.0], dtype=torch.float64), last_may_be_one=True)
    with pytest.raises(ValueError, match="β_2 = 1.5"):
        schedules.check_betas(torch.tensor([0.5, 1.5], dtype=torch.float64), last_may_be_one=True)
    with pytest.raises(ValueError, match=r"one β per step, got shape \(\)"):
        schedules.check_betas(torch.tensor(0.5))
    with pytest.raises(ValueError, match=r"got shape \(0,\); set T ≥ 1"):
        schedules.check_betas(torch.zeros(0))
