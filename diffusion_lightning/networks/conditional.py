"""The network of the user's slides (from a PyTorch diffusion tutorial): linear layers whose outputs are
scaled by a learned gain per step, softplus between them; the output is read as mean and log-variance."""

import torch
from torch import nn

from .mlp import check_sizes


class ConditionalLinear(nn.Module):
    """y = γ_t ⊙ (W x + b), one learned gain vector γ_t per step."""

    def __init__(self, in_dim: int, out_dim: int, T: int):
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim)
        self.gain = nn.Embedding(T + 1, out_dim)
        nn.init.uniform_(self.gain.weight)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.ceil().long() if t.is_floating_point() else t  # a continuous time t·T is held by the step above it
        return self.gain(t) * self.lin(x)


class ConditionalMLP(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, T: int, hidden: int = 128, layers: int = 2):
        super().__init__()
        check_sizes(hidden=hidden, layers=layers)
        sizes = [in_dim] + [hidden] * layers
        self.layers = nn.ModuleList(ConditionalLinear(a, b, T) for a, b in zip(sizes[:-1], sizes[1:]))
        self.readout = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for layer in self.layers:
            h = nn.functional.softplus(layer(h, t))
        return self.readout(h)
