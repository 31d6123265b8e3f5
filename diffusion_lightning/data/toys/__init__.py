"""The standard toy suite of density estimation (FFJORD's 2-D toys), each a stated distribution with its exact
density, and a Gaussian mixture in any dimension. ``make_toy(name, dim)`` builds one; every toy draws seeded points
and gives each point's true NLL, in the units the Swiss roll uses (centred, unit variance)."""

from ...errors import ConfigError
from ..generated import GeneratedDataModule
from ..swiss_roll import SwissRoll
from .curves import Moons, TwoSpirals
from .mixtures import eight_gaussians, mixture
from .shapes import Checkerboard, Pinwheel, circles, rings

TOYS = {"swissroll": SwissRoll, "8gaussians": eight_gaussians, "checkerboard": Checkerboard, "moons": Moons,
        "circles": circles, "rings": rings, "pinwheel": Pinwheel, "2spirals": TwoSpirals, "mixture": mixture}


def make_toy(name: str, dim: int = 2):
    """The toy ``name``; ``dim`` is the mixture's dimension, and 2 for every other toy."""
    if name not in TOYS:
        raise ConfigError(f"data.name={name} is not a toy; choose one of {', '.join(TOYS)}")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise ConfigError(f"data.dim={dim} must be a whole number ≥ 1 (the mixture's dimension); e.g. data.dim=2")
    if name == "mixture":
        return mixture(dim)
    if dim != 2:
        raise ConfigError(f"data.dim={dim}: data.name={name} is 2-D; only data.name=mixture takes another dimension")
    return TOYS[name]()


class ToyDataModule(GeneratedDataModule):
    """A toy of the standard suite by ``name`` (``toys.TOYS``), ``dim`` the dimension of ``name=mixture``."""

    def __init__(self, name: str = "8gaussians", dim: int = 2, n_train: int = 100_000, n_val: int = 5000,
                 n_test: int = 10_000, batch_size: int = 512, eval_batch_size: int = 10_000, seed: int = 0):
        super().__init__(make_toy(name, dim), n_train, n_val, n_test, batch_size, eval_batch_size, seed)
