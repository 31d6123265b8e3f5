"""The paper's shape (Sohl-Dickstein et al. 2015, App. D): lower layers shared over all steps, and a
separate linear readout for every step t. Each readout sees only 1/T of the training examples."""

import torch
from torch import nn

from .mlp import check_sizes, mlp


class PerStepReadout(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, T: int, hidden: int = 50, layers: int = 3, activation: str = "sigmoid"):
        super().__init__()
        check_sizes(hidden=hidden, layers=layers)
        self.body = mlp([in_dim] + [hidden] * layers, activation)
        self.weight = nn.Parameter(torch.randn(T + 1, hidden, out_dim) / hidden**0.5)
        self.bias = nn.Parameter(torch.zeros(T + 1, out_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.ceil().long() if t.is_floating_point() else t  # a continuous time t·T is held by the step above it
        h = self.body(x.flatten(1))
        return torch.bmm(h.unsqueeze(1), self.weight[t]).squeeze(1) + self.bias[t]
