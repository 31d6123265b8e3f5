"""Pure log-likelihood and KL functions in nats, elementwise (sum over dimensions at the call site)."""

import math

import torch

LOG2 = math.log(2.0)


def normal_kl(mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor, logvar2: torch.Tensor) -> torch.Tensor:
    """KL(N(mean1, e^logvar1) ‖ N(mean2, e^logvar2)) per dimension."""
    return 0.5 * (logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2) - 1.0)


def normal_nll(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """−log N(x; mean, e^logvar) per dimension (a density, so it may be negative)."""
    return 0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 * torch.exp(-logvar))


def bernoulli_kl(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """KL(B(p) ‖ B(q)) per bit, with 0·log 0 = 0."""
    return torch.xlogy(p, p) - p * torch.log(q.clamp_min(eps)) + torch.xlogy(1 - p, 1 - p) - (1 - p) * torch.log(
        (1 - q).clamp_min(eps)
    )


def bernoulli_nll(x: torch.Tensor, p: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """−log B(x; p) per bit."""
    return -(x * torch.log(p.clamp_min(eps)) + (1 - x) * torch.log((1 - p).clamp_min(eps)))


def bernoulli_kl_log(p: torch.Tensor, log_q: torch.Tensor, log_1mq: torch.Tensor) -> torch.Tensor:
    """KL(B(p) ‖ B(q)) per bit, q given by log q and log(1 − q): exact, and with a gradient, where q saturates."""
    return torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p) - p * log_q - (1 - p) * log_1mq


def bernoulli_nll_log(x: torch.Tensor, log_p: torch.Tensor, log_1mp: torch.Tensor) -> torch.Tensor:
    """−log B(x; p) per bit, p given by log p and log(1 − p)."""
    return -(x * log_p + (1 - x) * log_1mp)
