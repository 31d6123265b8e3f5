"""Reverse-model networks: ``net(x_t, t)`` with t an integer tensor in 1..T."""

from .conditional import ConditionalMLP
from .conv import TimeConv1d
from .mlp import TimeMLP
from .per_step import PerStepReadout

__all__ = ["ConditionalMLP", "PerStepReadout", "TimeConv1d", "TimeMLP"]
