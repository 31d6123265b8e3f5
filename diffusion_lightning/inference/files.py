"""What the commands write, each file whole or not at all (a temporary file, then renamed): samples (``.npy`` and
``.csv`` for points, one '0'/'1' line per sequence for binary data), each point's bits, figures and tables."""

import csv
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from matplotlib.figure import Figure

from ..training.files import written_whole


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` into a temporary file beside ``path``, renamed onto it when written whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with written_whole(path) as tmp:
        write(tmp)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_points(stem: Path, x: torch.Tensor, kind: str) -> list[Path]:
    """Binary data: ``<stem>.txt``, one '0'/'1' line per sequence (the data files' format). Points: ``<stem>.npy``
    (float32, exact) and ``<stem>.csv`` (a header x1, x2, …; 9 significant digits, which give the float32 back)."""
    x = x.detach().cpu()
    if kind == "binary":
        lines = ["".join(str(int(v)) for v in row) for row in x.flatten(1).round().to(torch.uint8).tolist()]
        return [write_text(stem.with_suffix(".txt"), "\n".join(lines) + "\n")]
    array = x.flatten(1).numpy()

    def save_npy(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, x.numpy())

    header = ",".join(f"x{i + 1}" for i in range(array.shape[1]))
    rows = "\n".join(",".join(f"{v:.9g}" for v in row) for row in array.tolist())
    return [write_atomic(stem.with_suffix(".npy"), save_npy),
            write_text(stem.with_suffix(".csv"), f"{header}\n{rows}\n")]


def write_bits(path: Path, columns: dict[str, torch.Tensor]) -> Path:
    """One line per point with each column's value (``%.17g``: a float64 read back exactly), under a header."""
    names = list(columns)
    values = np.stack([columns[name].double().cpu().numpy() for name in names], axis=1)
    rows = "\n".join(",".join(f"{v:.17g}" for v in row) for row in values.tolist())
    return write_text(path, ",".join(names) + "\n" + rows + "\n")


def write_figure(path: Path, figure: Figure) -> Path:
    return write_atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110))


def write_table(path: Path, rows: list[dict]) -> Path:
    """A CSV with one row per dict, the columns in the order they first appear."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, out.getvalue())


def format_table(rows: list[dict]) -> str:
    """The rows as aligned text columns (numbers to 4 decimals), for the terminal."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in (row.get(c, "") for c in columns)]
             for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in [columns, *cells])
