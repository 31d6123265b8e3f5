"""β schedules: pure functions of T returning β_1..β_T as a float64 tensor.

Unset ranges default to DDPM's 1e-4..0.02 at T = 1000, rescaled by 1000/T (as in Improved DDPM),
so that the total noise Σβ_t, and so ᾱ_T, stays about the same whatever T is.
"""

import math

import torch

from ..errors import ConfigError, check_number


def _default_range(T: int, beta_start: float | None, beta_end: float | None) -> tuple[float, float]:
    scale = 1000.0 / T
    start = 1e-4 * scale if beta_start is None else check_beta("schedule.beta_start", beta_start)
    end = min(0.02 * scale, 0.999) if beta_end is None else check_beta("schedule.beta_end", beta_end)
    return start, end


def check_beta(key: str, beta: float) -> float:
    return check_number(key, beta, "(0, 1)", hint="null takes DDPM's range rescaled by 1000/T")


def linear(T: int, beta_start: float | None = None, beta_end: float | None = None) -> torch.Tensor:
    """β_t evenly spaced from beta_start to beta_end (Ho et al. 2020)."""
    start, end = _default_range(T, beta_start, beta_end)
    return torch.linspace(start, end, T, dtype=torch.float64)


def quadratic(T: int, beta_start: float | None = None, beta_end: float | None = None) -> torch.Tensor:
    """√β_t evenly spaced (the "scaled_linear" of diffusers)."""
    start, end = _default_range(T, beta_start, beta_end)
    return torch.linspace(math.sqrt(start), math.sqrt(end), T, dtype=torch.float64) ** 2


def sigmoid(T: int, beta_start: float | None = None, beta_end: float | None = None) -> torch.Tensor:
    """β_t following a sigmoid over [-6, 6] between beta_start and beta_end."""
    start, end = _default_range(T, beta_start, beta_end)
    return start + (end - start) * torch.sigmoid(torch.linspace(-6, 6, T, dtype=torch.float64))


def constant(T: int, beta: float | None = None) -> torch.Tensor:
    """β_t = beta for every t; by default 10/T, so that ᾱ_T ≈ e^-10."""
    return torch.full((T,), min(10.0 / T, 0.5) if beta is None else check_beta("schedule.beta", beta),
                      dtype=torch.float64)


def cosine(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """ᾱ(t) = cos²(((t/T) + s)/(1 + s)·π/2), β_t = 1 − ᾱ(t)/ᾱ(t−1) capped at max_beta (Nichol & Dhariwal 2021)."""
    check_number("schedule.s", s, "≥ 0", hint="the offset that keeps β_1 above 0 (0.008 by default)")
    check_number("schedule.max_beta", max_beta, "(0, 1)", hint="the cap on β_t (0.999 by default)")
    t = torch.arange(T + 1, dtype=torch.float64)
    alpha_bar = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


def log_snr_linear(T: int, log_snr_start: float = 9.2, log_snr_end: float = -9.2) -> torch.Tensor:
    """log SNR(t) = log(ᾱ_t/(1−ᾱ_t)) evenly spaced from log_snr_start at t = 1 to log_snr_end at t = T (VDM's linear
    γ, Kingma et al. 2021), β_t = 1 − ᾱ_t/ᾱ_{t−1}: every step removes as much log-SNR. β_1 = sigmoid(−log_snr_start)
    (9.2: β_1 ≈ 1e-4; 13.8: 1e-6)."""
    check_number("schedule.log_snr_start", log_snr_start)
    check_number("schedule.log_snr_end", log_snr_end)
    if not log_snr_end < log_snr_start:
        raise ConfigError(f"schedule.log_snr_end={log_snr_end} must be below schedule.log_snr_start={log_snr_start}")
    lam = torch.linspace(log_snr_start, log_snr_end, T, dtype=torch.float64)  # T = 1: [log_snr_start]
    log_alpha_bar = torch.nn.functional.pad(torch.nn.functional.logsigmoid(lam), (1, 0))
    return -torch.expm1(log_alpha_bar[1:] - log_alpha_bar[:-1])


def sohl_dickstein(T: int) -> torch.Tensor:
    """β_t = 1/(T − t + 1): binomial diffusion keeps exactly (T − t)/T of the signal after t steps,
    and x_T is exactly the prior (Sohl-Dickstein et al. 2015, Appendix D.1.2)."""
    return 1.0 / (T - torch.arange(1, T + 1, dtype=torch.float64) + 1)


def check_betas(betas: torch.Tensor, last_may_be_one: bool = False) -> torch.Tensor:
    """Refuse a schedule outside (0, 1) with one line naming the first bad step.

    Binomial diffusion may end on β_T = 1 (x_T is then exactly the prior); Gaussian may not."""
    if betas.ndim != 1 or len(betas) < 1:
        raise ConfigError(f"a schedule must give one β per step, got shape {tuple(betas.shape)}; set T ≥ 1")
    upper = torch.ones_like(betas)
    if last_may_be_one:
        upper[-1] = 1 + 1e-12
    bad = ~((betas > 0) & (betas < upper))
    if bad.any():
        t = int(bad.nonzero()[0]) + 1
        if t == len(betas) and betas[-1] == 1:
            raise ConfigError(f"schedule gives β_{t} = 1 (x_T exactly the prior), which only binomial diffusion "
                              "allows; choose another schedule, e.g. schedule=linear")
        raise ConfigError(f"schedule gives β_{t} = {float(betas[t - 1]):.4g}, outside (0, 1); choose other settings "
                          "of the schedule, or another schedule, e.g. schedule=linear")
    return betas
