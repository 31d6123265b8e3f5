"""What the in-memory datamodules share: three tensor splits, and batches sliced from them."""

import lightning as L
import torch

from ..errors import ConfigError
from .batches import TensorBatches, TrainingBatches


def split_sizes(n_train: int, n_val: int, n_test: int) -> dict[str, int]:
    """The sizes of generated splits, each at least 2 (a standard error and an energy distance need two points)."""
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    for split, n in sizes.items():
        if n < 2:
            raise ConfigError(f"data.n_{split}={n} must be ≥ 2")
    return sizes


class InMemoryDataModule(L.LightningDataModule):
    """Subclasses fill ``self.splits`` ("train", "val", "test") in ``make_splits`` and say what a point is:
    ``shape``, ``kind`` ("continuous" or "binary"), ``true_nll_bits(split)``, ``true_nll_points(x)`` and
    ``sample_metrics(samples, split)``.

    The splits hold what the model sees. Data the model sees transformed (standardised points) says how to undo it,
    ``to_data``, and ``bits_offset``: the bits per point a bound on the splits needs to become one on the data in its
    own units (the transform's log-determinant); here none."""

    shape: tuple[int, ...]
    kind: str
    bits_offset: float = 0.0

    def __init__(self, batch_size: int, eval_batch_size: int, seed: int):
        super().__init__()
        for key, value in {"batch_size": batch_size, "eval_batch_size": eval_batch_size}.items():
            if value < 1:
                raise ConfigError(f"data.{key}={value} must be ≥ 1")
        self.batch_size, self.eval_batch_size, self.seed = batch_size, eval_batch_size, seed
        self.steps_per_batch = 1  # optimizer steps per training item; ``training.run.build`` sets it
        self.splits: dict[str, torch.Tensor] = {}

    def make_splits(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def true_nll_points(self, x: torch.Tensor) -> torch.Tensor | None:
        """Each point's −log2 p(x) under the distribution that generates the data; None where it is unknown."""
        return None

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.splits = self.make_splits()

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Points the model sees (samples too), in the data's own units."""
        return x

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        """Points in the data's own units, as the model sees them (the inverse of ``to_data``)."""
        return x

    def describe(self) -> dict:
        """What the splits are made of, for ``run_info.json``: here the seed that drew them and their sizes."""
        return {"seed": self.seed, "rows": {split: len(x) for split, x in self.splits.items()}}

    def train_dataloader(self) -> TrainingBatches:
        """Shuffled batches, ``steps_per_batch`` at a time, positioned by the trainer's global step; under DDP each
        rank takes its own share."""
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        return TrainingBatches(self.splits["train"], self.batch_size, seed=self.seed, steps=self.steps_per_batch,
                               rank=rank, world_size=world, step=(lambda: trainer.global_step) if trainer else None)

    def val_dataloader(self) -> TensorBatches:
        """The whole split on every rank: the bound is exact over the split, not over a shard."""
        return TensorBatches(self.splits["val"], self.eval_batch_size)

    def test_dataloader(self) -> TensorBatches:
        return TensorBatches(self.splits["test"], self.eval_batch_size)
