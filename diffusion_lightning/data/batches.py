"""Batches sliced from one in-memory tensor: no per-sample Dataset/collate cost (about 2× a step on CPU)."""

import torch


class TensorBatches:
    """Iterates over ``data`` in batches; with ``shuffle``, a fresh permutation each pass from ``seed``.

    Under data parallelism each rank takes every ``world_size``-th example of the shared permutation.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, shuffle: bool = False, seed: int = 0, drop_last: bool = False,
                 rank: int = 0, world_size: int = 1):
        self.data, self.batch_size, self.shuffle, self.drop_last = data, batch_size, shuffle, drop_last
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)

    def _rows(self) -> int:
        return len(range(self.rank, len(self.data), self.world_size))

    def __len__(self) -> int:
        n = self._rows()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.data), generator=self.generator) if self.shuffle else torch.arange(len(self.data))
        order = order[self.rank :: self.world_size]
        data = self.data[order] if self.shuffle or self.world_size > 1 else self.data
        for i in range(len(self)):
            yield data[i * self.batch_size : (i + 1) * self.batch_size]
