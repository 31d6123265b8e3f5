"""Datamodules of generated data with an exact density: train / val / test drawn independently from one seeded
generator, each split's true NLL from the generator's own density, and the energy distance of samples beside its
noise floor. The Swiss roll (``swiss_roll.py``) and the toy suite (``toys/``) are served this way."""

import functools

import torch

from .base import InMemoryDataModule, split_sizes
from .metrics import energy_distance


class GeneratedDataModule(InMemoryDataModule):
    """Splits of sizes ``n_*`` from ``generator`` (``sample(n, torch.Generator)``, ``nll_bits(x)``, ``dim``)."""

    kind = "continuous"

    def __init__(self, generator, n_train: int, n_val: int, n_test: int, batch_size: int, eval_batch_size: int,
                 seed: int):
        super().__init__(batch_size, eval_batch_size, seed)
        self.sizes = split_sizes(n_train, n_val, n_test)
        self.generator = generator

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.generator.dim,)

    def make_splits(self) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed)
        return {split: self.generator.sample(n, g) for split, n in self.sizes.items()}

    @functools.cache
    def true_nll_bits(self, split: str) -> float:
        """Mean −log2 p(x) of the split under the generator that made it: the floor for the bound."""
        return float(self.generator.nll_bits(self.splits[split]).mean())

    def true_nll_points(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator.nll_bits(x)

    def sample_metrics(self, samples: torch.Tensor, split: str) -> dict[str, float]:
        """Energy distance from samples to as many held-out points, and between two data draws of that size
        (the noise floor: a perfect model scores about the floor, not zero)."""
        n = min(len(samples), len(self.splits[split]))
        return {"energy_distance": energy_distance(samples[:n], self.splits[split][:n]),
                "energy_distance_floor": self._floor(n)}

    @functools.cache
    def _floor(self, n: int) -> float:
        g = torch.Generator().manual_seed(self.seed + 7919)
        return energy_distance(self.generator.sample(n, g), self.generator.sample(n, g))

