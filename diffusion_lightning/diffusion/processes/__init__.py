"""Forward processes with their posteriors, reverse parameterisations and exact bounds."""

from .binomial import BinomialDiffusion
from .continuous import ContinuousGaussianDiffusion
from .gaussian import GaussianDiffusion

__all__ = ["BinomialDiffusion", "ContinuousGaussianDiffusion", "GaussianDiffusion"]
