"""The exponential moving average of the weights that is evaluated and sampled."""

import torch


@torch.no_grad()
def update_ema(ema: list[torch.Tensor], params: list[torch.Tensor], decay: float, step: int) -> None:
    """θ_ema ← θ_ema + (1 − d)·(θ − θ_ema) after optimizer step ``step``, with d = min(decay, (1 + step)/(10 + step)):
    the warm-up keeps the early average from holding on to the random initial weights."""
    torch._foreach_lerp_(ema, params, 1 - min(decay, (1 + step) / (10 + step)))
