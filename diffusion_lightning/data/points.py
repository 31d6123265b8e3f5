"""The user's own points: an N × d array of floats (any d ≥ 1) read from files (``point_files.py``), split by
``DataFiles`` (validation and test from their files or held out of the training file), and standardised on the
training split (``Standardisation``, on by default), whose log-determinant the bound includes: bits in the file's own
units. The true NLL of such data is unknown: absent, never 0."""

import functools

import torch

from ..errors import ConfigError
from .base import InMemoryDataModule
from .files import DataFiles
from .metrics import energy_distance
from .point_files import read_points
from .standardisation import Standardisation


class PointsDataModule(InMemoryDataModule):
    """Points from ``train_file`` (and ``val_file`` / ``test_file``: ``.npy``, ``.npz`` with ``array`` naming the
    array, ``.csv``, ``.tsv``); with ``standardise`` the model sees each coordinate centred and scaled by the training
    split's mean and standard deviation, and samples, figures and bits are in the file's units."""

    kind = "continuous"

    def __init__(self, train_file: str | None = None, val_file: str | None = None, test_file: str | None = None,
                 array: str | None = None, val_fraction: float = 0.1, test_fraction: float = 0.1, split_seed: int = 0,
                 standardise: bool = True, batch_size: int = 512, eval_batch_size: int = 10_000, seed: int = 0):
        super().__init__(batch_size, eval_batch_size, seed)
        if not train_file:
            raise ConfigError("data=points needs a file of points: data.train_file=<file> (.npy, .npz, .csv or .tsv, "
                              "one point a row)")
        self.files = DataFiles(train_file, val_file, test_file, val_fraction, test_fraction, split_seed)
        self.array, self.standardise = array, standardise
        self.standardisation: Standardisation | None = None  # fitted in ``make_splits``

    def make_splits(self) -> dict[str, torch.Tensor]:
        raw = self.files.read(lambda path, key: read_points(path, key, self.array))
        train = raw["train"]
        self.standardisation = (Standardisation.fit(train, self.files.paths["train"]) if self.standardise
                                else Standardisation.identity(train.shape[1]))
        return {split: self.standardisation.to_model(x) for split, x in raw.items()}

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.standardisation.mean),)

    @property
    def bits_offset(self) -> float:
        """Σ_j log₂ σ_j: what a bound on the standardised points needs to be one on the file's (0 unstandardised)."""
        return self.standardisation.log_det_bits

    def to_data(self, z: torch.Tensor) -> torch.Tensor:
        return self.standardisation.to_data(z)

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        return self.standardisation.to_model(x)

    def describe(self) -> dict:
        return {**self.files.describe(), "dim": self.shape[0],
                "standardisation": self.standardisation.as_dict() if self.standardise else None}

    def true_nll_bits(self, split: str) -> None:
        """Unknown for data from files: no true NLL is logged (absent, not 0)."""
        return None

    def sample_metrics(self, samples: torch.Tensor, split: str) -> dict[str, float]:
        """In the file's units: the energy distance from samples to as many held-out points, and between as many
        training and held-out points (the noise floor of two draws of the data)."""
        n = min(len(samples), len(self.splits[split]), len(self.splits["train"]))
        held_out = self.to_data(self.splits[split][:n])
        return {"energy_distance": energy_distance(self.to_data(samples[:n]), held_out),
                "energy_distance_floor": self._floor(split, n)}

    @functools.cache
    def _floor(self, split: str, n: int) -> float:
        rows = torch.randperm(len(self.splits["train"]), generator=torch.Generator().manual_seed(self.seed + 7919))
        return energy_distance(self.to_data(self.splits["train"][rows[:n]]), self.to_data(self.splits[split][:n]))
