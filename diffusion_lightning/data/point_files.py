"""Reading an N × d array of points from ``.npy``, ``.npz`` (one named array), ``.csv`` or ``.tsv`` (a header line
allowed). numpy's readers do the work (10⁶ rows × 2 of CSV in 0.8 s: ``bench points_file``); when they refuse a
file, or it holds NaN or inf, a scan of the text finds the first bad line, so the one-line error names the file, the
line and the value."""

import math
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError

DELIMITERS = {".csv": ",", ".tsv": "\t"}
FORMATS = (".npy", ".npz", *DELIMITERS)


def read_points(path: Path, key: str, array: str | None = None) -> torch.Tensor:
    """The rows of ``path`` as a float64 tensor [N, d] (a 1-D array is N points of d = 1); ``array`` names the
    array of an ``.npz`` (needed when it holds several). Anything else is refused in one line naming the file."""
    if not path.is_file():
        raise ConfigError(f"{key}: no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"{key}={path}: unknown format {suffix or '(no extension)'}; give one of "
                          f"{', '.join(FORMATS)}")
    x = read_text(path, DELIMITERS[suffix]) if suffix in DELIMITERS else read_array(path, suffix, array)
    if x.ndim == 1:
        x = x[:, None]
    if len(x) == 0 or x.shape[1] == 0:
        raise ConfigError(f"{path}: the file holds no points; give one point per row")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))


def read_array(path: Path, suffix: str, name: str | None) -> np.ndarray:
    """An ``.npy`` array, or the array ``name`` of an ``.npz`` (its only array when ``name`` is None); numbers only,
    all finite."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ConfigError(f"{path}: not a readable {suffix} file of numbers ({error})") from None
    if suffix == ".npz":
        with loaded:
            names = loaded.files
            if name is None and len(names) != 1:
                raise ConfigError(f"{path} holds the arrays {', '.join(names) or '(none)'}; choose one with "
                                  "data.array=<name>")
            if (name or names[0]) not in names:
                raise ConfigError(f"{path} has no array data.array={name}; it holds {', '.join(names)}")
            loaded = loaded[name or names[0]]
    if loaded.dtype.kind not in "iuf":
        raise ConfigError(f"{path}: an array of {loaded.dtype}, not of numbers; give floats (or integers)")
    if loaded.ndim not in (1, 2):
        raise ConfigError(f"{path}: an array of shape {loaded.shape}; points are an N × d array (one point a row)")
    bad = np.argwhere(~np.isfinite(loaded.reshape(len(loaded), -1)))
    if len(bad):
        row, column = bad[0].tolist()
        value = loaded.reshape(len(loaded), -1)[row, column]
        raise ConfigError(f"{path}, row {row} (counting from 0), column {column}: {value}; every value must be a "
                          "finite number")
    return loaded


def read_text(path: Path, delimiter: str) -> np.ndarray:
    """A delimited text file of numbers, one point per line; a first line of no numbers is a header; blank lines
    are skipped."""
    header = header_lines(path, delimiter)
    try:
        x = np.loadtxt(path, delimiter=delimiter, comments=None, skiprows=header, ndmin=2, dtype=np.float64)
    except ValueError as error:
        raise ConfigError(first_bad_line(path, delimiter, header) or f"{path}: {error}") from None
    if not np.isfinite(x).all():
        raise ConfigError(first_bad_line(path, delimiter, header) or f"{path}: holds NaN or inf")
    return x


def header_lines(path: Path, delimiter: str) -> int:
    """The physical lines to skip: up to and including a first non-blank line none of whose fields is a number."""
    with path.open() as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                return number if not any(is_number(field) for field in line.split(delimiter)) else 0
    return 0


def is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def first_bad_line(path: Path, delimiter: str, header: int) -> str | None:
    """What is wrong with the first line that is not a row of finite numbers as wide as the first row (None when
    every line is)."""
    width = None
    with path.open() as f:
        for number, line in enumerate(f, start=1):
            if number <= header or not line.strip():
                continue
            fields = line.rstrip("\r\n").split(delimiter)
            for column, field in enumerate(fields, start=1):
                if not is_number(field):
                    return (f"{path}, line {number}, column {column}: {field.strip()!r} is not a number; every value "
                            "must be a number (a header is allowed on the first line only)")
                if not math.isfinite(float(field)):
                    return f"{path}, line {number}, column {column}: {field.strip()}; every value must be finite"
            if width is not None and len(fields) != width:
                return (f"{path}, line {number}: {len(fields)} values, but the first row has {width}; every row must "
                        "have the same number of values")
            width = width or len(fields)
    return None
