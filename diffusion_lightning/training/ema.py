"""The exponential moving average of the weights that is evaluated and sampled."""

import torch
from torch.optim.swa_utils import get_ema_multi_avg_fn


@torch.no_grad()
def update_ema(ema: list[torch.Tensor], params: list[torch.Tensor], decay: float, step: int) -> None:
    """θ_ema ← θ_ema + (1 − d)·(θ − θ_ema) after optimizer step ``step``, with d = min(decay, (1 + step)/(10 + step)):
    the warm-up keeps the early average from holding on to the random initial weights. torch's own EMA update (one
    fused lerp over all the tensors), given this step's d."""
    get_ema_multi_avg_fn(min(decay, (1 + step) / (10 + step)))(ema, params, None)
