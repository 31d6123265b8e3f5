"""Diffusion probabilistic models (Sohl-Dickstein et al. 2015) with PyTorch Lightning and Hydra.

Importing the package (or its math: ``processes``, ``schedules``) loads neither Lightning nor Hydra and changes no
process setting; the entry points call ``environment.configure()``."""

__version__ = "0.1.0"
