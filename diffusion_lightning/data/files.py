"""Data from files, whatever their format: a training file, and validation and test splits read from files of their
own or held out of the training file. A held-out split is a seeded draw of the training file's rows that the training
split never holds, so no run scores training rows as validation or test data. Heartbeat sequences and points share
this; each datamodule brings the reader of its format."""

import logging
from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import ConfigError

log = logging.getLogger(__name__)
HELD_OUT = ("val", "test")
MIN_ROWS = 2  # per split: a standard error, an energy distance and a standard deviation need two rows

Reader = Callable[[Path, str], torch.Tensor]  # (path, config key) → rows; refuses a bad file in one line


class DataFiles:
    """``train_file``, and for validation and test each a file of its own or the share ``val_fraction`` /
    ``test_fraction`` of the training file's rows, drawn by a permutation seeded with ``split_seed``: one split
    whatever the run's seed, so runs of several seeds are scored on the same points (and pair point by point)."""

    def __init__(self, train_file: str, val_file: str | None = None, test_file: str | None = None,
                 val_fraction: float = 0.1, test_fraction: float = 0.1, split_seed: int = 0):
        self.paths = {"train": train_file, "val": val_file, "test": test_file}
        self.fractions = {s: f for s, f in (("val", val_fraction), ("test", test_fraction)) if self.paths[s] is None}
        for split, fraction in self.fractions.items():
            if not 0 < fraction < 1:
                raise ConfigError(f"data.{split}_fraction={fraction} must lie strictly between 0 and 1 (the share of "
                                  f"data.train_file's rows held out for {split}); e.g. data.{split}_fraction=0.1, or "
                                  f"give data.{split}_file")
        if sum(self.fractions.values()) >= 1:
            raise ConfigError(f"data.val_fraction + data.test_fraction = {sum(self.fractions.values()):g} leaves no "
                              "training rows; keep their sum below 1, e.g. 0.1 each")
        self.split_seed = split_seed
        self.rows: dict[str, int] = {}

    def read(self, reader: Reader) -> dict[str, torch.Tensor]:
        """The train, val and test splits: each file read by ``reader``, the held-out splits drawn from the training
        file's rows (each split in file order)."""
        rows = reader(Path(self.paths["train"]), "data.train_file")
        index = self.hold_out(len(rows))
        splits = {split: rows[i] for split, i in index.items()}
        for split in HELD_OUT:
            if split not in index:
                path = self.paths[split]
                splits[split] = x = reader(Path(path), f"data.{split}_file")
                if len(x) < MIN_ROWS:
                    raise ConfigError(f"{path}: only {len(x)} row; data.{split}_file needs ≥ {MIN_ROWS} (a standard "
                                      "error needs two)")
                if x.shape[1:] != rows.shape[1:]:
                    raise ConfigError(f"{path}: rows of {x.shape[1]} values, but data.train_file's rows have "
                                      f"{rows.shape[1]}; every file must have as many")
        self.rows = {split: len(splits[split]) for split in ("train", *HELD_OUT)}
        if self.fractions:
            log.info(", ".join(f"{self.rows[s]} for {s} (data.{s}_fraction={f})" for s, f in self.fractions.items())
                     + f": held out of the {len(rows)} rows of {self.paths['train']} (data.split_seed="
                     f"{self.split_seed}); {self.rows['train']} train")
        return splits

    def hold_out(self, n: int) -> dict[str, torch.Tensor]:
        """Row indices of the training split and of each held-out split: disjoint, together all ``n`` rows."""
        counts = {split: round(fraction * n) for split, fraction in self.fractions.items()}
        counts["train"] = n - sum(counts.values())
        short = next((s for s, k in counts.items() if k < MIN_ROWS), None)
        if short is not None:
            why = (f"data.{short}_fraction={self.fractions[short]} holds out {counts[short]}" if short in self.fractions
                   else f"{counts['train']} would be left to train on")
            raise ConfigError(f"{self.paths['train']}: {n} rows, too few to split: {why}, and every split needs "
                              f"≥ {MIN_ROWS}; give more rows, "
                              + (f"raise data.{short}_fraction or give data.{short}_file" if short in self.fractions
                                 else "or give data.val_file and data.test_file"))
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.split_seed))
        index, start = {}, 0
        for split in (*self.fractions, "train"):
            index[split] = order[start : start + counts[split]].sort().values
            start += counts[split]
        return index

    def describe(self) -> dict:
        """What the splits are made of, for ``run_info.json``: the files, the held-out shares and their seed, and
        the rows of each split."""
        return {"files": {s: None if p is None else str(Path(p).resolve()) for s, p in self.paths.items()},
                "held_out_fractions": self.fractions, "split_seed": self.split_seed, "rows": self.rows}
