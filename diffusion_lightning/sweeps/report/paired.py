"""``python -m diffusion_lightning.sweeps.report.paired <run A> <run B>``: the test bound of two runs compared point by
point. Runs tested on the same split (same data settings and seed) share their test points, and runs with the same
T also share the x_t drawn for the bound, so the difference B − A per point has a much smaller spread than either
bound: its standard error resolves differences that the two bounds' own errors hide. That error is over test
points and x_t draws for these two trained networks; whether two configurations differ across training seeds is
the sweep report's paired-over-seeds comparison. Each run keeps its per-point bounds in ``bound_per_point.npz``,
with a fingerprint of its test split that must match."""

import argparse
import math
import sys
import zipfile
from pathlib import Path

import numpy as np

from ...training.files import BOUND_PER_POINT
from .stats import Estimate

FILE = BOUND_PER_POINT


class PairingError(ValueError):
    """Two runs that cannot be compared point by point."""


def per_point(run: Path) -> tuple[np.ndarray, str]:
    """A run's test bound per point (bits) and its test split's fingerprint."""
    path = run / FILE
    if not path.is_file():
        raise PairingError(f"{run} has no {FILE}: it is written when a run finishes its test (runs from before "
                           "this file existed must be run again)")
    try:
        with np.load(path) as saved:
            return saved["bits"], str(saved["test_points"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise PairingError(f"{path} cannot be read ({error}); run the job again to rewrite it") from None


def compare(run_a: Path, run_b: Path) -> dict:
    """Mean bound of each run and the paired difference B − A with its standard error and 95% interval."""
    (a, points_a), (b, points_b) = per_point(run_a), per_point(run_b)
    if points_a != points_b:
        raise PairingError(f"{run_a} and {run_b} were tested on different points (their data settings or seeds "
                           "differ); compare them unpaired with python -m diffusion_lightning.sweeps.report")
    n = len(a)
    if n < 2:
        raise PairingError(f"{run_a} has {n} test points: a standard error needs at least 2 (raise data.n_test)")
    bound_a, bound_b, difference = (Estimate.of(x.tolist()) for x in (a, b, b - a))
    root_n = math.sqrt(n)
    return {"n": n, "a": bound_a.mean, "a_se": bound_a.std / root_n, "b": bound_b.mean, "b_se": bound_b.std / root_n,
            "difference": difference.mean, "se": difference.std / root_n, "ci95": difference.ci95}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffusion_lightning.sweeps.report.paired",
                                     description=__doc__.split("\n")[0].split(": ", 1)[-1])
    parser.add_argument("run_a", type=Path, help="a run directory (outputs/<stamp> or a sweep's job directory)")
    parser.add_argument("run_b", type=Path, help="the run compared with it")
    args = parser.parse_args(argv)
    try:
        result = compare(args.run_a, args.run_b)
    except PairingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"test bound, bits per point, over the same {result['n']} test points:")
    print(f"  A {args.run_a}: {result['a']:.4f} ± {result['a_se']:.4f}")
    print(f"  B {args.run_b}: {result['b']:.4f} ± {result['b_se']:.4f}")
    low, high = result["difference"] - result["ci95"], result["difference"] + result["ci95"]
    print(f"  B − A, paired: {result['difference']:+.4f} ± {result['se']:.4f} (standard error; 95% interval "
          f"[{low:+.4f}, {high:+.4f}])")
    return 0


if __name__ == "__main__":
    sys.exit(main())
