"""A time-conditioned 1-D convolutional network for sequences: circular, dilated convolutions, so the network
commutes with cyclic shifts. A pattern learned at some positions (a pulse phase) holds at every position,
including phases never seen in training."""

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .mlp import SinusoidalEmbedding, check_embedding, check_sizes


class TimeConv1d(nn.Module):
    """Residual blocks h ← h + conv_d(SiLU(h + W_b·emb(t))) with dilations d; the receptive field is
    1 + (kernel_size − 1)·Σd positions, which should cover the sequence's period."""

    def __init__(self, in_dim: int, out_dim: int, T: int, channels: int = 64, kernel_size: int = 3,
                 dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32), emb_dim: int = 64):
        super().__init__()
        check_sizes(channels=channels, kernel_size=kernel_size)
        check_embedding(emb_dim)
        if kernel_size % 2 == 0:
            raise ConfigError(f"model.kernel_size={kernel_size} must be odd (a window centred on each position)")
        whole = isinstance(dilations, Sequence) and not isinstance(dilations, str)
        if not (whole and dilations and all(type(d) is int and d >= 1 for d in dilations)):
            raise ConfigError(f"model.dilations={list(dilations) if whole else dilations} must be a list of whole "
                              "numbers ≥ 1; e.g. model.dilations=[1,2,4,8]")
        if out_dim % in_dim:
            raise ConfigError(f"model=conv outputs whole channels per position; it cannot give {out_dim} outputs "
                              f"for {in_dim} inputs: use model=mlp")
        self.out_channels = out_dim // in_dim
        # circular padding cannot wrap a dilation as long as the sequence; the default powers of two below it reach
        # every position already (a sequence of 20: dilations 1..16)
        dilations = [d for d in dilations if d < in_dim] or [1]
        self.embed = SinusoidalEmbedding(emb_dim, T)
        self.inp = nn.Conv1d(1, channels, 1)
        self.time = nn.ModuleList(nn.Linear(emb_dim, channels) for _ in dilations)
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=d * (kernel_size - 1) // 2,
                      padding_mode="circular") for d in dilations)
        self.readout = nn.Conv1d(channels, self.out_channels, 1)
        nn.init.zeros_(self.readout.weight)
        nn.init.zeros_(self.readout.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.inp(x.flatten(1)[:, None, :])
        emb = self.embed(t)
        for conv, time in zip(self.convs, self.time):
            h = h + conv(nn.functional.silu(h + time(emb)[:, :, None]))
        # channels-major output: (B, out_channels·L), matching the processes' chunk(2, dim=-1) split
        return self.readout(nn.functional.silu(h)).flatten(1)
