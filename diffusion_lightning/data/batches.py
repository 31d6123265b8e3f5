"""Batches sliced from one in-memory tensor: no per-sample Dataset/collate cost (about 2× a step on CPU)."""

from collections.abc import Callable, Iterator

import torch

from ..errors import ConfigError


class TensorBatches:
    """The rows of ``data`` in order, ``batch_size`` at a time: what the bound is evaluated over."""

    def __init__(self, data: torch.Tensor, batch_size: int):
        self.data, self.batch_size = data, batch_size

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        for i in range(len(self)):
            yield self.data[i * self.batch_size : (i + 1) * self.batch_size]


class TrainingBatches:
    """The endless training stream. Optimizer step k trains on batch k of a sequence of passes over ``data``:
    pass p = k // (batches per pass) in the order of the permutation seeded by (seed, p), incomplete last batches
    dropped. Iteration starts at the step ``step()`` reads (the restored global step), so a resumed run sees
    exactly the batches it would have; the trainer's ``max_steps`` ends it.

    Each item holds the batches of ``steps`` consecutive optimizer steps, stacked to [steps, batch_size, ...]:
    one call of ``training_step`` runs them all, which spreads Lightning's cost per call over several steps.

    Under data parallelism each rank takes every ``world_size``-th example of the shared permutation.

    A split smaller than a batch (a small file: 30 lines, batches of 256) is drawn with replacement instead, batch k
    from a generator seeded by (seed, rank, k): a training example is an (x_0, t, noise) triple, so repeating rows
    of x_0 within a batch is exactly the objective, and each step's batch still depends on its step alone.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, seed: int = 0, steps: int = 1, rank: int = 0,
                 world_size: int = 1, step: Callable[[], int] | None = None):
        self.data, self.batch_size, self.seed, self.steps = data, batch_size, seed, steps
        self.rank, self.world_size, self.step = rank, world_size, step
        if len(data) == 0:
            raise ConfigError("the training split is empty; give at least one training example")
        self.per_pass = len(data) // world_size // batch_size  # the same on every rank; 0: draw with replacement
        self._pass: tuple[int, torch.Tensor] | None = None

    def batch(self, k: int) -> torch.Tensor:
        """The batch of optimizer step ``k`` (on this rank)."""
        if self.per_pass == 0:
            generator = torch.Generator().manual_seed((self.seed * 100_003 + self.rank) * 1_000_003 + k)
            return self.data[torch.randint(len(self.data), (self.batch_size,), generator=generator)]
        p, i = divmod(k, self.per_pass)
        if self._pass is None or self._pass[0] != p:
            order = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(self.seed * 100_003 + p))
            self._pass = p, self.data[order[self.rank :: self.world_size]]
        return self._pass[1][i * self.batch_size : (i + 1) * self.batch_size]

    def __iter__(self) -> Iterator[torch.Tensor]:
        k = self.step() if self.step else 0
        while True:
            yield torch.stack([self.batch(k + j) for j in range(self.steps)])
            k += self.steps
