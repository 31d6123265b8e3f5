"""Points given to a run: checked against its data (each point's shape, and the alphabet of binary data) and read
from files (``.npy``; ``.csv`` or whitespace-separated text for points; one '0'/'1' line per sequence for binary
data). A mismatch is refused in one line that names the source, the point and what the run expects."""

from pathlib import Path

import numpy as np
import torch

from ..data.heartbeat import read_sequences
from ..errors import ConfigError


def as_points(x, shape: tuple[int, ...], kind: str, source: str = "the points") -> torch.Tensor:
    """``x`` (a tensor or an array of points, one per row) as float32, refused where it does not fit a run whose
    points have ``shape`` and whose data is ``kind`` (binary: 0 and 1 only; continuous: finite)."""
    x = torch.as_tensor(np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x), dtype=torch.float32)
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        per_point = "×".join(map(str, shape))
        raise ConfigError(f"{source}: an array of shape {tuple(x.shape)}, and the run's points have {per_point} "
                          f"values each: give an array of shape (n, {', '.join(map(str, shape))})")
    if len(x) == 0:
        raise ConfigError(f"{source}: no points; give at least one")
    binary = kind == "binary"
    bad = ((x != 0) & (x != 1)) if binary else ~torch.isfinite(x)
    if bad.any():
        i = int(bad.flatten(1).any(1).nonzero()[0])
        what = "the run's data is binary: 0 and 1 only" if binary else "a point's values must be finite"
        raise ConfigError(f"{source}: point {i + 1} holds the value {float(x[i][bad[i]][0]):g}; {what}")
    return x


def read_points(path: str | Path, shape: tuple[int, ...], kind: str, key: str = "data.test_file") -> torch.Tensor:
    """The points of a file, checked against the run (``as_points``); ``key`` names the setting that gave it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{key}: no such file: {path}")
    if path.suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ConfigError(f"{key}: {path} is not a NumPy array file ({' '.join(str(error).split())})") from None
    elif kind == "binary":
        x = read_sequences(path, key)
    else:
        x = read_table(path)
    return as_points(x, shape, kind, str(path))


def read_table(path: Path) -> np.ndarray:
    """Rows of numbers separated by commas or whitespace, one point per line, after an optional header line."""
    rows, width = [], None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.replace(",", " ").split()
        if not fields:
            continue
        try:
            row = [float(f) for f in fields]
        except ValueError:
            if not rows and number == 1:
                continue  # a header
            raise ConfigError(f"{path}, line {number}: {line.strip()!r} is not a row of numbers") from None
        if width is not None and len(row) != width:
            raise ConfigError(f"{path}, line {number}: {len(row)} values, but earlier lines have {width}; "
                              "one point per line, each with the same number of values")
        width = len(row)
        rows.append(row)
    if not rows:
        raise ConfigError(f"{path}: the file holds no points; give one point per line")
    return np.array(rows)
