"""Your own points (``data=points``): wall time of ``PointsDataModule.setup`` on a CSV of 10^6 rows × 2 (with a
header line): reading the file, holding out the validation and test rows and standardising on the training rows;
beside the bare reference, numpy's ``loadtxt`` of the same file (the reader the module uses), and the same module on
the file saved as ``.npy``. Interleaved over ``repeats``; medians."""

import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..data import PointsDataModule
from .common import load
from .evaluation import timed

SIZES = {"full": {"rows": 1_000_000, "repeats": 3}, "quick": {"rows": 2000, "repeats": 1}}


def set_up(path: Path) -> PointsDataModule:
    datamodule = PointsDataModule(train_file=str(path))
    datamodule.setup()
    return datamodule


def run(size: str) -> Iterator[dict]:
    s = SIZES[size]
    x = np.random.default_rng(0).normal(size=(s["rows"], 2)) * [30.0, 5.0] + [100.0, -7.0]
    with tempfile.TemporaryDirectory(prefix="bench_points_") as directory:
        csv, npy = Path(directory) / "points.csv", Path(directory) / "points.npy"
        np.savetxt(csv, x, delimiter=",", header="x,y", comments="")
        np.save(npy, x)
        work = {"module_csv": lambda: set_up(csv),
                "numpy_loadtxt_csv": lambda: np.loadtxt(csv, delimiter=",", skiprows=1),
                "module_npy": lambda: set_up(npy)}
        times: dict[str, list[float]] = {name: [] for name in work}
        for _ in range(s["repeats"]):
            for name, fn in work.items():
                times[name].append(timed(fn))
        megabytes = csv.stat().st_size / 2**20
    for name, runs in times.items():
        wall = statistics.median(runs)
        yield {"bench": "points_file", "what": name, "rows": s["rows"], "csv_mb": round(megabytes, 1),
               "wall_s": wall, "runs_s": [round(t, 2) for t in runs], "rows_per_s": round(s["rows"] / wall),
               "load": load()}
