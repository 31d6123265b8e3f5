"""Reverse-model networks: ``net(x_t, t)`` with t an integer tensor in 1..T."""

from .conditional import ConditionalMLP
from .mlp import TimeMLP
from .per_step import PerStepReadout

__all__ = ["ConditionalMLP", "PerStepReadout", "TimeMLP"]
