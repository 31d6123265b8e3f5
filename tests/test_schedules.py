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
