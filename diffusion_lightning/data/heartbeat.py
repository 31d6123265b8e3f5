"""Binary 'heartbeat' sequences (paper App. D.1.2): a 1 every ``period`` bins, the first pulse uniform
over the first period, so ``period`` equally likely sequences. Generated, or read from text files
(one sequence of '0'/'1' characters per line, the format of the user's data)."""

import math
from pathlib import Path

import torch

from ..errors import ConfigError
from .base import InMemoryDataModule, split_sizes
from .files import DataFiles
from .metrics import match_fractions


def heartbeats(length: int, period: int) -> torch.Tensor:
    """Every sequence the generator can make: row φ has its pulses at φ, φ + period, …"""
    return (torch.arange(length)[None, :] % period == torch.arange(period)[:, None]).float()


def read_sequences(path: str | Path, key: str) -> torch.Tensor:
    """Parse a file of '0'/'1' lines; refuse anything else with the file, the line and the problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{key}: no such file: {path}")
    rows, width = [], None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        bad = next((c for c in line if c not in "01"), None)
        if bad is not None:
            raise ConfigError(f"{path}, line {number}: character {bad!r} at column {line.index(bad) + 1}; "
                             "a sequence is made of '0' and '1' only")
        if width is not None and len(line) != width:
            raise ConfigError(f"{path}, line {number}: length {len(line)}, but earlier lines have length {width}; "
                             "all sequences must have one length")
        width = len(line)
        rows.append([float(c) for c in line])
    if not rows:
        raise ConfigError(f"{path}: the file holds no sequences; give one '0'/'1' sequence per line")
    return torch.tensor(rows)


def infer_period(x: torch.Tensor) -> int | None:
    """The pulse spacing when every sequence has evenly spaced pulses with one common spacing."""
    gaps = {int(d) for row in x for d in torch.diff(row.nonzero().flatten())}
    return gaps.pop() if len(gaps) == 1 else None


class HeartbeatDataModule(InMemoryDataModule):
    """Generated sequences (``length``, ``period``, split sizes ``n_*``), or sequences from files (any number of
    lines: a file smaller than a batch is drawn with replacement, see ``TrainingBatches``); validation and test lines
    come from their own files or are held out of the training file (``DataFiles``)."""

    kind = "binary"

    def __init__(self, length: int = 20, period: int | None = 5, n_train: int = 10_000, n_val: int = 500,
                 n_test: int = 2000, train_file: str | None = None, val_file: str | None = None,
                 test_file: str | None = None, val_fraction: float = 0.1, test_fraction: float = 0.1,
                 split_seed: int = 0, batch_size: int = 256, eval_batch_size: int = 2000, seed: int = 0):
        super().__init__(batch_size, eval_batch_size, seed)
        if train_file is None and (val_file or test_file):
            split = "val" if val_file else "test"
            raise ConfigError(f"data.{split}_file={val_file or test_file} needs data.train_file too")
        if train_file is None and (period is None or not 1 <= period <= length):
            raise ConfigError(f"data.period={period} must lie between 1 and data.length={length}")
        self.length, self.period = length, period
        self.files = (DataFiles(train_file, val_file, test_file, val_fraction, test_fraction, split_seed)
                      if train_file else None)
        self.sizes = split_sizes(n_train, n_val, n_test) if train_file is None else {}  # generated splits

    def make_splits(self) -> dict[str, torch.Tensor]:
        if self.files is None:
            patterns = heartbeats(self.length, self.period)
            g = torch.Generator().manual_seed(self.seed)
            return {s: patterns[torch.randint(self.period, (n,), generator=g)] for s, n in self.sizes.items()}
        splits = self.files.read(read_sequences)
        self.length = splits["train"].shape[1]
        self.period = infer_period(splits["train"])  # the file's own, as its length is (None: no common spacing)
        return splits

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.length,)

    def describe(self) -> dict:
        return self.files.describe() if self.files else super().describe()

    def mean_activity(self) -> float:
        """The fraction of 1s in the training data: the paper's prior π."""
        return float(self.splits["train"].mean())

    def true_nll_bits(self, split: str) -> float | None:
        """log2 of the number of equally likely sequences; unknown (None) for data from files."""
        return math.log2(self.period) if self.files is None else None

    def true_nll_points(self, x: torch.Tensor) -> torch.Tensor | None:
        """log2(period) for a sequence the generator can make, infinite for any other; unknown (None) for data
        from files."""
        if self.files is not None:
            return None
        valid = (x.flatten(1)[:, None, :] == heartbeats(self.length, self.period)[None]).all(-1).any(-1)
        return torch.where(valid, math.log2(self.period), math.inf)

    def sample_metrics(self, samples: torch.Tensor, split: str) -> dict[str, float]:
        """valid: a sequence the generator can make; train / val / other: equal to a training sequence,
        else to a validation sequence, else neither (the user's metric)."""
        fractions = match_fractions(samples, {"train": self.splits["train"], "val": self.splits["val"]})
        out = {f"{k}_fraction": v for k, v in fractions.items()}
        if self.period is not None:
            out["valid_fraction"] = match_fractions(samples, {"valid": heartbeats(self.length, self.period)})["valid"]
        return out
