"""LR schedules over the run's total number of optimizer steps (bound in ``configure_optimizers``)."""

import torch

from ..errors import ConfigError


def exponential(optimizer: torch.optim.Optimizer, total_steps: int, final_factor: float = 0.01):
    """lr·γ^step with γ chosen so the lr ends at final_factor·lr."""
    if not 0 < final_factor <= 1:
        raise ConfigError(f"lr_scheduler.final_factor={final_factor} must lie in (0, 1]")
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=final_factor ** (1 / max(total_steps, 1)))


def cosine(optimizer: torch.optim.Optimizer, total_steps: int, final_factor: float = 0.0):
    """Half a cosine from lr down to final_factor·lr over the run."""
    if not 0 <= final_factor <= 1:
        raise ConfigError(f"lr_scheduler.final_factor={final_factor} must lie in [0, 1]")
    lr = optimizer.param_groups[0]["lr"]
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1), eta_min=lr * final_factor)
