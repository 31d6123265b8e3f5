"""Diffusion probabilistic models (Sohl-Dickstein et al. 2015) with PyTorch Lightning and Hydra."""

from . import _env  # noqa: F401  (process settings needed before Lightning runs; see _env.py)

__version__ = "0.1.0"
