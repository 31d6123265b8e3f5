"""Diffusion probabilistic models (Sohl-Dickstein et al. 2015) with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"
